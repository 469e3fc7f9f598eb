"""The COW world bound to one policy: its transition core (states, actions and what they do).

Every action is atomic (one lock hold of the kernel). States are flat tuples
(see ``layout``); the mechanisms (``mechanisms/``) change a list copy and
name the branch they took; the action records that branch, so a run's
coverage is the set of actions that fired. Page counters are derived on demand.

Two shapes of world share this code:
* open (the reference world): any process may take any enabled action at any time;
* scripted: each thread runs its program in order, and the kernel events of
  the scenario interleave anywhere.

The core takes its steps one key at a time as well (``keys``, ``take``): a
key is a thread of a script, one operation of a process on an address in an
open world, or one kind of kernel event on one page. What the core offers the
engine beyond ``engine.Model`` is in ``capabilities``; words and JSON are the
renderer's (``render``).
"""

from __future__ import annotations

from typing import Any, Callable, Hashable, NamedTuple, Sequence

from modelcheck.cow import invariants as _invariants
from modelcheck.cow.actions import Act, Operation, process_name
from modelcheck.cow.adapters import HeldParameters, KeyedSteps, Successors
from modelcheck.cow.coverage import Coverage
from modelcheck.cow.decisions import PolicyChoices
from modelcheck.cow.kernel import Kernel, Machine
from modelcheck.cow.layout import (MM_EXITED, PAGE_EXCLUSIVE, PAGE_HUGETLB, PAGE_KSM_REPLACING, PAGE_LOCKED,
                                   PAGE_LRU_BATCH, PAGE_WRITEBACK,
                                   PTE_SOFTDIRTY, VMA_UFFD_WP, VMA_UFFD_WP_ASYNC, VMA_WRITE, folio_code,
                                   pte_make)
from modelcheck.cow.mechanisms.fork import FORK_CONCURRENT, fork_in_progress
from modelcheck.cow.mechanisms.memory import lru_batch_pages, lru_cpu_of
from modelcheck.cow.mechanisms.migrate import migrating
from modelcheck.cow.mechanisms.swap import unmapping_pte
from modelcheck.cow.mechanisms.thp import OwnerSlots, track_mm_owners
from modelcheck.cow.mechanisms.tlb import two_step
from modelcheck.cow.operations import KERNEL_EVENT_RUNS, OPEN_ACTIONS, OPERATIONS, PARTIAL
from modelcheck.cow.policies import Policy
from modelcheck.cow.registry import batch_twin
from modelcheck.cow.render import Renderer
from modelcheck.cow.scenario import Op
from modelcheck.cow.symmetry import PageSymmetry
from modelcheck.cow.unknowns import UnknownReferences, explicit_counterpart
from modelcheck.cow.world import CowWorld
from modelcheck.engine.model import Property

Mechanism = Callable[..., "str | None"]
Key = tuple[Any, ...]  # ("thread", name), (kind, page) for a kernel event, (kind, proc, addr) in an open world
_OPEN_RUNS: dict[str, Mechanism] = {kind: run for kind, run in OPEN_ACTIONS.items() if run is not None}


class OpenOperations(NamedTuple):
    """The open world's operations, interned once: per process and address (write, the read action,
    munmap, vmsplice), per process its pipe read, and the fork."""

    at: list[list[tuple[Operation, Act, Operation, Operation]]]
    pipe_reads: list[Operation]
    fork: Operation


class CowModel:
    """The transition system of ``world`` under ``policy`` (implements ``engine.Model``); ``CowWorld.model``
    gives it the capabilities its world offers (``capabilities``)."""

    def __init__(self, world: CowWorld, policy: Policy, invariant_names: Sequence[str],
                 machine: Machine | None = None) -> None:
        self.world = world
        self.policy = policy
        self.invariant_names = tuple(invariant_names)
        if machine is None:
            machine = Machine.for_policy(world, self.invariant_names, policy)
        self.layout = L = machine.layout
        # symbolic references: z3 decides the refcount tests of a step (unknowns.py); explicit worlds
        # never import z3
        self.unknowns = UnknownReferences(world, L) if machine.symbolic else None
        self.kernel = k = Kernel.of(machine, policy, self.unknowns)
        self.scenario = k.scenario
        self.holders = k.holders
        self.tags = k.tags
        self._bases: dict[tuple, Operation] = {}
        self.open_ops = self._open_operations(L.processes, L.addresses)
        self._kernel_base = {(kind, g): self._base(kind, "kernel", -1, -1, page=g)
                             for family in k.kernel_families for kind in family for g in range(L.pages)}
        self._script_steps = [
            [(self._base(op.kind, t.name, t.proc, op.addr, self._holder_number(op), op.text, op.cell,
                         pc == len(t.program) - 1),
              *self._on_cpu(t.cpu, *self._tracking_owners(*self._operation(op, t.proc, ti, pc))),
              OPERATIONS[op.kind].writes,
              self._finisher(op, t.proc))
             for pc, op in enumerate(t.program)]
            for ti, t in enumerate(k.threads)]
        # a schedule: per key, the positions of the schedule at which another key's step comes
        schedule = self.scenario.schedule if self.scenario is not None else ()
        self._schedule = schedule
        self._scheduled_slot = L.scheduled_index
        self._elsewhere = {key: tuple(n for n, at in enumerate(schedule) if at != key) for key in set(schedule)}
        # with TLBs, or beside GUP-fast, fork is several steps, between which the parent's other threads may only
        # access memory and walk the page table locklessly
        self._fork_window = (L.features.tlb or k.fork_in_steps) and any(op.kind == "fork" for t in k.threads
                                                                           for op in t.program)
        # one step of a mechanism: the plain form unless the world has unknown references or a schedule
        self._try: Callable[..., None] = (self._try_plain if self.unknowns is None and self._scheduled_slot < 0
                                          else self._try_general)
        self.words = Renderer(k, policy.name)
        self._properties: tuple[Property, ...] = _invariants.build_all(self.invariant_names, k, self.words)
        self._initial = self._initial_state()
        # the adapters of the capabilities a world may offer (``capabilities`` decides which it does)
        self.symmetry = PageSymmetry(L, k.zero_page if k.zero_page >= 0 else k.file_page)  # keeps its slot
        self.coverage = Coverage(k)
        self.stepping = KeyedSteps(self)
        self.held = HeldParameters(world, L, policy, self.invariant_names)
        self.deciding = PolicyChoices(self)

    def _open_operations(self, P: int, M: int) -> OpenOperations:
        at = []
        for p in range(P):
            name = process_name(p)
            at.append([(self._base("write", name, p, a), self.act("read", name, p, a, branch="read"),
                        self._base("munmap", name, p, a), self._base("vmsplice", name, p, a))
                       for a in range(M)])
        return OpenOperations(at, [self._base("pipe_read", process_name(p), p, -1) for p in range(P)],
                              self._base("fork", "parent", 0, -1))

    def _initial_state(self) -> tuple:
        """The parent has each address mapped, written, writable, to its own page; a fresh address is mapped
        and never touched (no PTE, its page slot free), and the zero page holds zeros (the initial contents'
        tag: what the first read of a fresh address sees)."""
        k = self.kernel
        L = k.layout
        f = L.features
        t = [0] * L.size
        initial = k.tags.code(0, 0)
        for fixed in (k.zero_page, k.file_page):  # the zero page holds zeros, the file's page its contents
            if fixed >= 0:
                for cell in range(f.cells):
                    t[L.value_index(fixed, cell)] = initial
        for a in range(L.addresses):
            fresh = a in (k.scenario.untouched if k.scenario is not None else ())  # (not the ones zapped later)
            if not fresh:
                t[L.pte_index(0, a)] = pte_make(a, True, PTE_SOFTDIRTY if k.soft_dirty_on else 0)
            for cell in range(f.cells):
                if not fresh:
                    t[L.value_index(a, cell)] = initial
                if f.last_write:
                    t[L.last_index(0, a, cell)] = initial
            if f.pageflags and self.policy.uses_exclusive and not fresh:
                t[L.flags_base + a] = PAGE_EXCLUSIVE
            if f.vma:
                t[L.vma_base + a] = (VMA_WRITE | (VMA_UFFD_WP if a in k.uffd_addrs else 0)
                                     | (VMA_UFFD_WP_ASYNC if a in k.uffd_async_addrs else 0))
        if k.hugetlb_on:  # every address's page is a huge page of its own (and the hugetlbfs file's page)
            mapped = [a for a in range(L.addresses) if t[L.pte_index(0, a)]]
            for g in mapped + ([k.file_page] if k.file_page >= 0 else []):
                t[L.flags_base + g] |= PAGE_HUGETLB
        if f.thp and t[L.pte_index(0, 0)]:  # a0 .. a<thp-1>: the pages of one folio, mapped by one PMD (unless
            # the range starts untouched); only the head's flag counts
            by_pte = k.scenario is not None and k.scenario.thp_pte  # (split: every page takes the head's flag)
            t[L.pmd_base] = 0 if by_pte else 1
            for a in range(f.thp):
                t[L.folio_base + a] = folio_code(0, a)
                if a and f.pageflags and not by_pte:
                    t[L.flags_base + a] &= ~PAGE_EXCLUSIVE
            if f.owners:  # the parent owns slot 0 with all its mappings
                t[L.owners_base] = OwnerSlots([1, 0], [f.thp if by_pte else 1, 0], False).pack()
        for n, a in enumerate(self.world.held_unknown):  # on address a's first page, any number so far
            t[L.held_base + 3 * n] = a + 1
        for a, count in self.world.held:  # a number of them, on its speculative-reference slot
            t[L.spec_base + a] = count or 0
        return tuple(t)

    # -- engine.Model ------------------------------------------------------------------
    def initial_states(self) -> list[tuple]:
        return [self._initial]

    def properties(self) -> tuple[Property, ...]:
        return self._properties

    def successors(self, s: tuple) -> Successors:
        out: Successors = []
        if self.scenario is None:
            self._open_successors(s, out)
        else:
            self._scripted_successors(s, out)
        self._kernel_successors(s, out)
        return out

    # -- words for people (the renderer's) ---------------------------------------------------------
    def action_actor(self, act: Act) -> str:
        return self.words.action_actor(act)

    def action_label(self, act: Act) -> str:
        return self.words.action_label(act)

    def mid_operation(self, act: Act) -> bool:
        """The step left its thread inside its operation (one the world runs in steps): a program that made it
        would still be in that system call or fault."""
        return act.proc >= 0 and act.branch.rpartition("+")[2] in PARTIAL

    def describe_transition(self, before: tuple, act: Act, after: tuple) -> list[str]:
        return self.words.describe_transition(before, act, after)

    def state_to_json(self, s: tuple) -> dict[str, Any]:
        return self.words.state_to_json(s)

    def state_summary(self, s: tuple) -> str:
        return self.words.state_summary(s)

    def value_words(self, code: int) -> str:
        return self.tags.words(code)

    # -- action identity ------------------------------------------------------------------
    def act(self, kind: str, actor: str, proc: int = -1, addr: int = -1, page: int = -1, holder: int = -1,
            text: str = "", branch: str = "") -> Act:
        """The interned action of an operation that took ``branch``."""
        return self._base(kind, actor, proc, addr, holder, text, page=page).act(branch)

    def kernel_operation(self, kind: str, page: int) -> Operation:
        """The kernel event ``kind`` on ``page``, as an operation (one of the world's)."""
        return self._kernel_base[kind, page]

    def _base(self, kind: str, actor: str, proc: int, addr: int, holder: int = -1, text: str = "",
              cell: int = 0, last: bool = False, page: int = -1) -> Operation:
        """An operation's identity without its branch, built once; its actions are cached per branch."""
        key = (kind, actor, addr, page, holder, text, cell, last)
        op = self._bases.get(key)
        if op is None:
            op = self._bases[key] = Operation((kind, actor, proc, addr, page, holder, text, cell, last))
        return op

    # -- taking a step ------------------------------------------------------------------
    def _try_general(self, s: Any, out: Successors, base: Operation, run: Mechanism, *args: Any,
                     pc_index: int = -1, finish: Callable[[Any], None] | None = None) -> None:
        """One step of ``run`` from ``s``: in a world with unknown references, once per outcome z3 allows;
        in a scheduled world, counting the step against the schedule."""
        unknowns = self.unknowns
        if unknowns is not None and unknowns.decisions is None:
            unknowns.take_every_outcome(s, out, lambda found: self._try_general(s, found, base, run, *args,
                                                                                pc_index=pc_index, finish=finish))
            return
        scheduled, steps = self._scheduled_slot, len(self._schedule)
        if scheduled >= 0:
            mechanism = run

            def run(k: Any, t: Any, *given: Any) -> str | None:  # the step, counted against the schedule
                branch = mechanism(k, t, *given)
                if branch is not None and t[scheduled] < steps:
                    t[scheduled] += 1
                return branch

        self._try_plain(s, out, base, run, *args, pc_index=pc_index, finish=finish)

    def _try_plain(self, s: Any, out: Successors, base: Operation, run: Mechanism, *args: Any,
                   pc_index: int = -1, finish: Callable[[Any], None] | None = None) -> None:
        """One step of ``run`` from ``s`` (the hot path of explicit searches: a world with neither unknown
        references nor a schedule asks neither question)."""
        t: Any = list(s) if s.__class__ is tuple else s.copy()  # else a Tracked or symbolic state
        branch = run(self.kernel, t, *args)
        if branch is None:
            return
        if pc_index >= 0 and branch.rpartition("+")[2] not in PARTIAL:
            t[pc_index] += 1
            if finish is not None:
                finish(t)
        after = tuple(t) if t.__class__ is list else t.frozen()
        # an action that changed nothing yields the state itself: the search then knows it is
        # its own representative under symmetry without asking
        out.append((base.act(branch), s if after == s else after))

    @batch_twin("ReferenceBatch.expand")
    def _open_successors(self, s: tuple, out: Successors) -> None:
        """reference-world.md: every existing process may write, read, munmap, vmsplice, read its pipe."""
        L = self.layout
        M = L.addresses
        on = self.kernel.open
        ops = self.open_ops.at
        has_pipes = L.pipe_base != L.value_base
        write_on, read_on, munmap_on, vmsplice_on = on["write"], on["read"], on["munmap"], on["vmsplice"]
        try_, store, munmap, vmsplice = self._try, _OPEN_RUNS["write"], _OPEN_RUNS["munmap"], _OPEN_RUNS["vmsplice"]
        tags = self.tags
        nforks = s[0]
        k = 1
        for p in range(nforks + 1):
            pipe_full = bool(s[L.pipe_base + p]) if has_pipes else True
            tag = tags.code(p, nforks)
            for write, read, unmap, splice in ops[p]:
                if s[k]:
                    a = k - 1 - p * M
                    if write_on:
                        try_(s, out, write, store, p, a, 0, tag)
                    if read_on:
                        out.append((read, s))
                    if munmap_on:
                        try_(s, out, unmap, munmap, p, a)
                    if vmsplice_on and not pipe_full:
                        try_(s, out, splice, vmsplice, p, a)
                k += 1
            if on["pipe_read"] and pipe_full and has_pipes:
                try_(s, out, self.open_ops.pipe_reads[p], _OPEN_RUNS["pipe_read"], p)
        if on["fork"]:
            try_(s, out, self.open_ops.fork, _OPEN_RUNS["fork"])

    def _scripted_successors(self, s: tuple, out: Successors) -> None:
        """Each live thread may take the next operation of its program."""
        for ti in range(len(self.kernel.threads)):
            self._thread_step(s, ti, out)

    def _thread_step(self, s: Any, ti: int, out: Successors) -> None:
        """Thread ``ti``'s next operation, if its process lives and its program has one left."""
        L = self.layout
        thread = self.kernel.threads[ti]
        pc_index = L.pc_base + ti
        pc = s[pc_index]
        if pc >= len(thread.program):  # (looked at first: a finished thread depends on nothing else)
            return
        proc = thread.proc
        nforks = s[0]
        if proc > nforks or (L.features.mm and s[L.mm_base + proc] & MM_EXITED):
            return
        if self._schedule and not self._scheduled(s, ("thread", thread.name)):
            return
        if self._fork_window and proc == 0 and self._waits_for_fork(s, ti, thread.program[pc].kind):
            return
        if self.kernel.unmap_in_steps and self._waits_for_unmap(s, proc, thread.program[pc].kind):
            return
        if self.kernel.large_reuse_in_steps and self._waits_for_large_look(s, ti, proc, thread.program[pc].kind):
            return
        base, run, args, writes, finish = self._script_steps[ti][pc]
        if writes:  # the last argument is the write's number: its value tag depends on nforks now
            args = args[:-1] + (self.tags.code(proc, nforks, args[-1]),)
        self._try(s, out, base, run, *args, pc_index=pc_index, finish=finish)

    def _waits_for_fork(self, s: Any, ti: int, kind: str) -> bool:
        """With TLBs, fork is two steps under mmap_lock: meanwhile the parent's other threads only access memory
        and order themselves (``fork.FORK_CONCURRENT``)."""
        if kind in FORK_CONCURRENT or "lockless" in OPERATIONS[kind].needs or (kind == "fork"
                                                                                 and s[self.layout.step_base + ti]):
            return False
        return fork_in_progress(self.kernel, s)

    def _waits_for_large_look(self, s: Any, ti: int, proc: int, kind: str) -> bool:
        """A write fault (a store's, a GUP's) holds the page-table lock between its two looks at a large folio:
        the process's other threads wait for it, but the lockless walk of GUP-fast."""
        if "lockless" in OPERATIONS[kind].needs:
            return False
        L, k = self.layout, self.kernel
        return any(n != ti and s[L.step_base + n] and s[L.pc_base + n] < len(k.threads[n].program)
                   and k.threads[n].program[s[L.pc_base + n]].kind in k.large_look_kinds
                   for n in k.threads_of[proc])

    def _waits_for_unmap(self, s: Any, proc: int, kind: str) -> bool:
        """try_to_unmap holds the page-table lock of a PTE it cleared and has not yet restored or swapped out:
        every operation of that process waits for it, but the lockless walk of GUP-fast."""
        if "lockless" in OPERATIONS[kind].needs:
            return False
        L = self.layout
        mine = range(L.pte_index(proc, 0), L.pte_index(proc, L.addresses))
        return any(unmapping_pte(self.kernel, s, g) in mine for g in range(L.pages))

    def _scheduled(self, s: Any, key: Key) -> bool:
        """Whether the scenario's schedule lets ``key`` take the next step: it is done, or names ``key`` next.
        (Compared position by position, so that the same code runs on a state whose slots are terms.)"""
        taken = s[self.layout.scheduled_index]
        if taken.__class__ is int:
            return taken >= len(self._schedule) or self._schedule[taken] == key
        return not any(taken == n for n in self._elsewhere.get(key, range(len(self._schedule))))

    def _holder_number(self, op: Op) -> int:
        if not op.holder:
            return -1
        return next(n for n, h in enumerate(self.holders) if h.name == op.holder)

    def _finisher(self, op: Op, proc: int) -> Callable[[Any], None] | None:
        """What the system call's return makes true (a write-protect request takes effect), if anything."""
        on_return = OPERATIONS[op.kind].on_return
        if on_return is None:
            return None
        k = self.kernel
        return lambda t: on_return(k, t, proc, op.addr)

    def _operation(self, op: Op, proc: int, thread: int, pc: int) -> tuple[Mechanism, tuple]:
        """The mechanism that carries out ``op`` in this world and its arguments (as it declares them)."""
        decl = OPERATIONS[op.kind]
        tokens = self.scenario.tokens if self.scenario is not None else ()
        given = {"thread": thread, "proc": proc, "addr": op.addr, "cell": op.cell,
                 "holder": self._holder_number(op), "child": op.child,
                 "token": tokens.index(op.token) if op.token in tokens else -1,
                 "tag": self.kernel.write_op.get((thread, pc), 0), "target": op.target}
        if decl.steps_run is not None and op.kind in self.kernel.stepped:
            return decl.steps_run, tuple(given[name] for name in decl.steps_params)
        if self.layout.features.tlb:
            if decl.tlb_run is not None:
                return decl.tlb_run, tuple(given[name] for name in decl.tlb_params)
            if decl.deferred_flush is not None and decl.defers(self.policy):
                flushed = op.addr if decl.deferred_flush == "address" else -1
                return two_step, (thread, proc, decl.run, flushed, *(given[name] for name in decl.params))
        return decl.run, tuple(given[name] for name in decl.params)

    def _on_cpu(self, cpu: int, run: Mechanism, args: tuple) -> tuple[Mechanism, tuple]:
        """``run`` as a step of a thread on ``cpu``: the mechanism runs in the kernel of that CPU (whose LRU
        batch a new page goes into and a fault drains); CPU 0's is the model's own kernel."""
        if cpu == 0:
            return run, args
        kernel = self.kernel.on_cpu(cpu)
        return (lambda _kernel, t, *rest: run(kernel, t, *rest)), args

    def _tracking_owners(self, run: Mechanism, args: tuple) -> tuple[Mechanism, tuple]:
        """``run``, and where the policy tracks large folios' MM owners, their update after the step from the
        mappings it changed (``thp.track_mm_owners``; the only kernel events of a THP world, speculative
        references, map and unmap nothing)."""
        if not self.layout.features.owners:
            return run, args

        def tracked(k: Any, t: Any, *given: Any) -> str | None:
            synced = k.owners_synced
            synced[:] = (tuple(t),)
            try:
                branch = run(k, t, *given)
                if branch is not None:
                    track_mm_owners(k, synced[0], t)
            finally:
                synced.clear()
            return branch
        return tracked, args

    def _kernel_successors(self, s: tuple, out: Successors) -> None:
        """The kernel events the world allows, page by page, in a fixed order."""
        pages = range(self.layout.pages)
        for family in self.kernel.kernel_families:
            for g in pages:
                for kind in family:
                    self._kernel_step(s, kind, g, out)

    @batch_twin("ReferenceBatch._speculative")
    def _kernel_step(self, s: Any, kind: str, g: int, out: Successors) -> None:
        """Kernel event ``kind`` on page ``g``, if it is enabled."""
        L = self.layout
        vb, C, fb = L.value_base, L.features.cells, L.flags_base
        base, run = self._kernel_base[kind, g], KERNEL_EVENT_RUNS[kind]
        if self._schedule and not self._scheduled(s, (kind, g)):
            return
        if kind == "spec_get":  # on a live page, while fewer than S speculative references exist
            if sum(s[L.spec_base:L.spec_base + L.pages]) < L.speculative and s[vb + g * C]:
                self._try(s, out, base, run, g, +1)
        elif kind == "spec_put":
            if s[L.spec_base + g]:
                self._try(s, out, base, run, g, -1)
        elif kind == "lru_drain":  # a CPU's whole batch, named by the first page in it
            if s[fb + g] & PAGE_LRU_BATCH and lru_batch_pages(self.kernel, s, lru_cpu_of(self.kernel, s, g))[0] == g:
                self._try(s, out, base, run, g)
        elif kind == "unlock_page":  # (not the lock ksmd or migration holds between its two steps)
            if s[fb + g] & PAGE_LOCKED and not s[fb + g] & PAGE_KSM_REPLACING and not migrating(self.kernel, s, g):
                self._try(s, out, base, run, g, False)
        elif kind == "lock_page":  # one page locked at a time
            if s[vb + g * C] and not any(s[fb + h] & PAGE_LOCKED for h in range(L.pages)):
                self._try(s, out, base, run, g, True)
        elif kind == "ksm_merge":  # the mechanism says whether ksmd can merge the page
            self._try(s, out, base, run, g)
        elif kind in ("swap_add", "swap_unmap"):
            if s[vb + g * C]:
                self._try(s, out, base, run, g)
        elif kind == "migrate":  # the mechanism says whether the page can be isolated and migrated
            self._try(s, out, base, run, g)
        elif kind == "writeback_end":  # (the mechanism takes it on a folio's head only)
            if s[fb + g] & PAGE_WRITEBACK:
                self._try(s, out, base, run, g)

    # -- one key at a time -----------------------------------------------------------------------
    def keys(self) -> list[Key]:
        """Every key of the world, in the order ``successors`` lists their actions."""
        if self.scenario is not None:
            steps: list[Key] = [("thread", t.name) for t in self.kernel.threads]
        else:
            steps = self._open_keys()
        return steps + list(self._kernel_base)

    def key_of(self, act: Act) -> Hashable:
        """The key ``act`` is a step of."""
        if act.proc < 0:
            return (act.kind, act.page)
        if self.scenario is not None:
            return ("thread", act.actor)
        return (act.kind, act.proc, act.addr)

    def take(self, s: Any, key: Hashable) -> Successors:
        """The enabled actions of ``key`` in ``s`` (at most one) with their successors, as ``successors``
        lists them."""
        out: Successors = []
        assert isinstance(key, tuple)
        if key[0] == "thread":
            self._thread_step(s, self.kernel.thread_number[key[1]], out)
        elif len(key) == 2:
            self._kernel_step(s, key[0], key[1], out)
        else:
            self._open_step(s, key, out)
        return out

    def _open_keys(self) -> list[Key]:
        L, on = self.layout, self.kernel.open
        keys: list[Key] = []
        has_pipes = L.pipe_base != L.value_base
        for p in range(L.processes):
            for a in range(L.addresses):
                keys += [(kind, p, a) for kind in ("write", "read", "munmap", "vmsplice") if on[kind]]
            if on["pipe_read"] and has_pipes:
                keys.append(("pipe_read", p, -1))
        if on["fork"]:
            keys.append(("fork", 0, -1))
        return keys

    def _open_step(self, s: Any, key: Key, out: Successors) -> None:
        """One operation of an open world, enabled as ``_open_successors`` enables it."""
        kind, p, a = key
        L = self.layout
        if kind == "fork":
            self._try(s, out, self.open_ops.fork, _OPEN_RUNS[kind])
            return
        if p > s[0]:  # the process does not exist yet
            return
        has_pipes = L.pipe_base != L.value_base
        if kind == "pipe_read":
            if has_pipes and s[L.pipe_base + p]:
                self._try(s, out, self.open_ops.pipe_reads[p], _OPEN_RUNS[kind], p)
            return
        if not s[L.pte_index(p, a)]:
            return
        write, read, unmap, splice = self.open_ops.at[p][a]
        if kind == "read":  # it changes nothing
            out.append((read, s))
        elif kind == "write":
            self._try(s, out, write, _OPEN_RUNS[kind], p, a, 0, self.tags.code(p, s[0]))
        elif kind == "munmap":
            self._try(s, out, unmap, _OPEN_RUNS[kind], p, a)
        elif not (s[L.pipe_base + p] if has_pipes else True):  # vmsplice, into an empty pipe
            self._try(s, out, splice, _OPEN_RUNS[kind], p, a)

    # -- symbolic references ------------------------------------------------------------------
    def explicit_counterpart(self, labels: Sequence[str]) -> tuple[CowWorld, list[str]]:
        """Symbolic references: the explicit world at the S z3's counts need, and ``labels`` as a trace
        of it (``unknowns.explicit_counterpart``)."""
        return explicit_counterpart(self, self.world, labels)
