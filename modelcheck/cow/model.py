"""The COW world bound to one policy: states, actions and what they do.

Every action is atomic (one lock hold of the kernel). States are flat tuples
(see ``layout``); the mechanisms (``mechanisms/``) change a list copy and
name the branch they took; the action records that branch, so a run's
coverage is the set of actions that fired. Page counters are derived on demand.

Two shapes of world share this code:
* open (the reference world): any process may take any enabled action at any time;
* scripted: each thread runs its program in order, and the kernel events of
  the scenario interleave anywhere.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

from modelcheck.cow import invariants as _invariants
from modelcheck.cow.actions import Act, Observation, Operation, observation, process_name
from modelcheck.cow.kernel import Kernel, Machine
from modelcheck.cow.layout import (MM_EXITED, PAGE_EXCLUSIVE, PAGE_LOCKED, PAGE_LRU_BATCH, PTE_SOFTDIRTY,
                                   VMA_UFFD_WP, VMA_WRITE, pte_make)
from modelcheck.cow.mechanisms import cpu, events, fork, gup, swap, wrprotect
from modelcheck.cow.mechanisms.tlb import PARTIAL, two_step
from modelcheck.cow.policies import Policy
from modelcheck.cow.render import Renderer
from modelcheck.cow.scenario import GUP_OPS, Op
from modelcheck.cow.symmetry import PageSymmetry
from modelcheck.cow.unknowns import UnknownReferences, explicit_counterpart
from modelcheck.cow.world import CowWorld
from modelcheck.engine.footprint import Tracked
from modelcheck.engine.model import Invariant, TransitionCheck

# the decisions a policy takes, as coverage names them
BRANCHES = ("reuse", "copy", "copy_install", "copy_retry", "swapin", "swapin_reuse", "swap_add", "swap_unmap",
            "pageout", "lru_drain", "fork_share", "fork_copy",
            "gup_write_fault", "gup_cow_break", "uffd_fault", "unshare_keep", "unshare_copy", "wrprotect",
            "skip_pinned", "mprotect_upgrade", "tlb_write", "flush_pending", "tlb_flush", "flush_before_fault")
Mechanism = Callable[..., "str | None"]


class CowModel:
    """The transition system of ``world`` under ``policy`` (implements ``engine.Model``)."""

    def __init__(self, world: CowWorld, policy: Policy, invariant_names: Sequence[str]) -> None:
        self.world = world
        self.policy = policy
        self.invariant_names = tuple(invariant_names)
        machine = Machine.build(world, self.invariant_names, policy.uses_exclusive)
        self.layout = L = machine.layout
        # symbolic references: z3 decides the refcount tests of a step (unknowns.py); explicit worlds
        # never import z3
        self.unknowns = UnknownReferences(world, L) if machine.symbolic else None
        self.kernel = k = Kernel.of(machine, policy, self.unknowns)
        self.scenario = k.scenario
        self.holders = k.holders
        self.tags = k.tags
        self._bases: dict[tuple, Operation] = {}
        self._open_bases = self._build_open_bases(L.processes, L.addresses)
        self._kernel_base = {(kind, g): self._base(kind, "kernel", -1, -1, page=g)
                             for family in k.kernel_families for kind in family for g in range(L.pages)}
        self._script_steps = [
            [(self._base(op.kind, t.name, t.proc, op.addr, self._holder_number(op), op.text, op.cell,
                         pc == len(t.program) - 1),
              *self._operation(op, t.proc, ti, pc), op.kind in ("store", "dma_write"), self._finisher(op, t.proc))
             for pc, op in enumerate(t.program)]
            for ti, t in enumerate(k.threads)]
        self.words = Renderer(k, policy.name)
        self._properties = tuple(_invariants.build(name, k, self.words) for name in self.invariant_names) + (
            _invariants.spurious_copy_count(k),)
        self._initial = self._initial_state()
        self._symmetry = PageSymmetry(L)

    def _build_open_bases(self, P: int, M: int) -> list:
        """Open worlds: per process, per address, the (write, read, munmap, vmsplice) operations, built once."""
        bases = []
        for p in range(P):
            name = process_name(p)
            bases.append([(self._base("write", name, p, a), self.act("read", name, p, a, branch="read"),
                           self._base("munmap", name, p, a), self._base("vmsplice", name, p, a))
                          for a in range(M)])
        self._open_pipe_reads = [self._base("pipe_read", process_name(p), p, -1) for p in range(P)]
        self._open_fork = self._base("fork", "parent", 0, -1)
        return bases

    def _initial_state(self) -> tuple:
        """The parent has each address mapped, written, writable, to its own page."""
        k = self.kernel
        L = k.layout
        f = L.features
        t = [0] * L.size
        initial = k.tags.code(0, 0)
        for a in range(L.addresses):
            t[L.pte_index(0, a)] = pte_make(a, True, PTE_SOFTDIRTY if k.pte_flag_bits else 0)
            for cell in range(f.cells):
                t[L.value_index(a, cell)] = initial
                if f.last_write:
                    t[L.last_index(0, a, cell)] = initial
            if f.pageflags and self.policy.uses_exclusive:
                t[L.flags_base + a] = PAGE_EXCLUSIVE
            if f.vma:
                t[L.vma_base + a] = VMA_WRITE | (VMA_UFFD_WP if a in k.uffd_addrs else 0)
        for n, a in enumerate(self.world.held_unknown):  # on address a's first page, any number so far
            t[L.held_base + 3 * n] = a + 1
        for a, count in self.world.held:  # a number of them, on its speculative-reference slot
            t[L.spec_base + a] = count or 0
        return tuple(t)

    # -- engine.Model ------------------------------------------------------------------
    def initial_states(self) -> list[tuple]:
        return [self._initial]

    def properties(self):
        return self._properties

    def act(self, kind: str, actor: str, proc: int = -1, addr: int = -1, page: int = -1, holder: int = -1,
            text: str = "", branch: str = "") -> Act:
        """The interned action of an operation that took ``branch``."""
        return self._base(kind, actor, proc, addr, holder, text, page=page).act(branch)

    def canonical(self, s: tuple) -> tuple:
        return self._symmetry.canonical(s)

    def observation(self, s: Any, act: Act) -> Observation | None:
        return observation(self.kernel, s, act)

    def batch_successors(self):
        """The same transitions a batch of states at a time (numpy), when this world allows it; else None."""
        if self.scenario is not None:
            return None
        if not hasattr(self, "_batch"):  # built once: choosing a store and running both ask
            from modelcheck.cow.batch import ReferenceBatch  # numpy is loaded only by the runs that use it

            self._batch = ReferenceBatch.for_model(self)
        return self._batch

    def successors(self, s: tuple) -> list[tuple[Act, tuple]]:
        out: list[tuple[Act, tuple]] = []
        if self.scenario is None:
            self._open_successors(s, out)
        else:
            self._scripted_successors(s, out)
        self._kernel_successors(s, out)
        return out

    def _base(self, kind: str, actor: str, proc: int, addr: int, holder: int = -1, text: str = "",
              cell: int = 0, last: bool = False, page: int = -1) -> Operation:
        """An operation's identity without its branch, built once; its actions are cached per branch."""
        key = (kind, actor, addr, page, holder, text, cell, last)
        op = self._bases.get(key)
        if op is None:
            op = self._bases[key] = Operation((kind, actor, proc, addr, page, holder, text, cell, last))
        return op

    def _try(self, s: Any, out: list, base: Operation, run: Mechanism, *args: Any, pc_index: int = -1,
             finish: Callable[[Any], None] | None = None) -> None:
        unknowns = self.unknowns
        if unknowns is not None and unknowns.decisions is None:
            unknowns.take_every_outcome(s, out, lambda found: self._try(s, found, base, run, *args,
                                                                        pc_index=pc_index, finish=finish))
            return
        t = list(s) if s.__class__ is tuple else s.copy()  # else a Tracked state (footprints)
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

    def run_stats(self) -> dict[str, float]:
        """Figures of the run beyond states and transitions (the solver's, with symbolic references)."""
        return self.unknowns.figures() if self.unknowns is not None else {}

    def _open_successors(self, s: tuple, out: list) -> None:
        """reference-world.md: every existing process may write, read, munmap, vmsplice, read its pipe."""
        L = self.layout
        M = L.addresses
        on = self.kernel.open
        bases = self._open_bases
        has_pipes = L.pipe_base != L.value_base
        write_on, read_on, munmap_on, vmsplice_on = on["write"], on["read"], on["munmap"], on["vmsplice"]
        try_, store, munmap, vmsplice = self._try, cpu.op_store, fork.op_munmap, gup.op_vmsplice
        tags = self.tags
        nforks = s[0]
        k = 1
        for p in range(nforks + 1):
            pipe_full = bool(s[L.pipe_base + p]) if has_pipes else True
            tag = tags.code(p, nforks)
            for write, read, unmap, splice in bases[p]:
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
                try_(s, out, self._open_pipe_reads[p], gup.op_pipe_read, p)
        if on["fork"]:
            try_(s, out, self._open_fork, fork.op_fork)

    def _scripted_successors(self, s: tuple, out: list) -> None:
        """Each live thread may take the next operation of its program."""
        for ti in range(len(self.kernel.threads)):
            self._thread_step(s, ti, out)

    def _thread_step(self, s: Any, ti: int, out: list) -> None:
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
        base, run, args, writes, finish = self._script_steps[ti][pc]
        if writes:  # the last argument is the write's number: its value tag depends on nforks now
            args = args[:-1] + (self.tags.code(proc, nforks, args[-1]),)
        self._try(s, out, base, run, *args, pc_index=pc_index, finish=finish)

    def _holder_number(self, op: Op) -> int:
        if not op.holder:
            return -1
        return next(n for n, h in enumerate(self.holders) if h.name == op.holder)

    def _finisher(self, op: Op, proc: int) -> Callable[[Any], None] | None:
        """What happens when the system call returns (a write-protect request takes effect)."""
        if op.kind in ("mprotect_ro", "uffd_wp", "clear_refs"):
            k = self.kernel
            return lambda t: wrprotect.complete_write_protect(k, t, proc, op.kind, op.addr)
        return None

    def _operation(self, op: Op, proc: int, thread: int, pc: int) -> tuple[Mechanism, tuple]:
        """The mechanism that carries out ``op`` and its arguments."""
        kind, addr = op.kind, op.addr
        write_op = self.kernel.write_op
        if self.layout.features.tlb:
            if kind == "store":
                return cpu.op_tlb_store, (thread, proc, addr, op.cell, write_op[thread, pc])
            if kind == "load":
                return cpu.op_tlb_load, (thread, proc, addr)
            if kind in ("mprotect_ro", "uffd_wp", "uffd_unwp"):
                return two_step, (thread, proc, getattr(wrprotect, f"op_{kind}"), addr, proc, addr)
            if kind == "clear_refs" and self.policy.clear_refs_flushes_tlb:
                return two_step, (thread, proc, wrprotect.op_clear_refs, -1, proc)
        if kind == "store":
            return cpu.op_store, (proc, addr, op.cell, write_op[thread, pc])
        if kind == "load":
            return cpu.op_load, (proc, addr)
        if kind in GUP_OPS:
            return gup.op_gup, (self._holder_number(op),)
        if kind == "dma_write":
            return gup.op_dma_write, (self._holder_number(op), write_op[thread, pc])
        if kind in ("dma_read", "put"):
            return getattr(gup, f"op_{kind}"), (self._holder_number(op),)
        if kind == "fork":
            return fork.op_fork, ()
        if kind == "exit":
            return fork.op_exit, (proc,)
        if kind == "pipe_read":
            return gup.op_pipe_read, (proc,)
        if kind == "clear_refs":
            return wrprotect.op_clear_refs, (proc,)
        if kind == "munmap":
            return fork.op_munmap, (proc, addr)
        if kind == "vmsplice":
            return gup.op_vmsplice, (proc, addr)
        if kind == "pageout":
            return swap.op_pageout, (proc, addr)
        return getattr(wrprotect, f"op_{kind}"), (proc, addr)

    def _kernel_successors(self, s: tuple, out: list) -> None:
        """The kernel events the world allows, page by page, in a fixed order."""
        pages = range(self.layout.pages)
        for family in self.kernel.kernel_families:
            for g in pages:
                for kind in family:
                    self._kernel_step(s, kind, g, out)

    def _kernel_step(self, s: Any, kind: str, g: int, out: list) -> None:
        """Kernel event ``kind`` on page ``g``, if it is enabled."""
        L = self.layout
        vb, C, fb = L.value_base, L.features.cells, L.flags_base
        if kind == "spec_get":  # on a live page, while fewer than S speculative references exist
            if sum(s[L.spec_base:L.spec_base + L.pages]) < L.speculative and s[vb + g * C]:
                self._try(s, out, self._kernel_base[kind, g], events.op_spec, g, +1)
        elif kind == "spec_put":
            if s[L.spec_base + g]:
                self._try(s, out, self._kernel_base[kind, g], events.op_spec, g, -1)
        elif kind == "lru_drain":
            if s[fb + g] & PAGE_LRU_BATCH:
                self._try(s, out, self._kernel_base[kind, g], events.op_lru_drain, g)
        elif kind == "unlock_page":
            if s[fb + g] & PAGE_LOCKED:
                self._try(s, out, self._kernel_base[kind, g], events.op_page_lock, g, False)
        elif kind == "lock_page":  # one page locked at a time
            if s[vb + g * C] and not any(s[fb + h] & PAGE_LOCKED for h in range(L.pages)):
                self._try(s, out, self._kernel_base[kind, g], events.op_page_lock, g, True)
        elif kind in ("swap_add", "swap_unmap"):
            if s[vb + g * C]:
                run = swap.op_swap_add if kind == "swap_add" else swap.op_swap_unmap
                self._try(s, out, self._kernel_base[kind, g], run, g)

    # -- words for people (the renderer's) ---------------------------------------------------------
    def action_actor(self, act: Act) -> str:
        return self.words.action_actor(act)

    def action_label(self, act: Act) -> str:
        return self.words.action_label(act)

    def describe_transition(self, before: tuple, act: Act, after: tuple) -> list[str]:
        return self.words.describe_transition(before, act, after)

    def state_to_json(self, s: tuple) -> dict[str, Any]:
        return self.words.state_to_json(s)

    def value_words(self, code: int) -> str:
        return self.tags.words(code)

    # -- footprints (for dynamic partial-order reduction) ---------------------------------------
    def step_key(self, act: Act) -> tuple:
        """A thread of the script, or a kernel event on one page."""
        if act.proc < 0:
            return (act.kind, act.page)
        return ("thread", act.actor)

    def step_keys(self) -> list[tuple] | None:
        """Every thread and every kernel event on every page; None for an open world, whose reads
        return to the state they read (DPOR needs finite executions), and with symbolic references,
        where one step has a successor per outcome of its refcount tests."""
        if self.scenario is None or self.unknowns is not None:
            return None
        return [("thread", t.name) for t in self.kernel.threads] + list(self._kernel_base)

    def step(self, s: Any, key: tuple) -> list[tuple[Act, Any]]:
        """The enabled action of ``key`` (a thread, or a kernel event on a page) with its successor."""
        out: list = []
        if key[0] == "thread":
            self._thread_step(s, self.kernel.thread_number[key[1]], out)
        else:
            self._kernel_step(s, key[0], key[1], out)
        return out

    HELD_MOST = 1 << 20  # the most held references a parameter stands for

    def free_slots(self) -> dict[int, tuple[int, int]]:
        """Initial-state slots that are parameters of the run (held references in an unknown number),
        with inclusive bounds: a search that takes them may leave them free."""
        L = self.layout
        return {L.spec_base + a: (0, self.HELD_MOST) for a, count in self.world.held if count is None}

    def describe_parameter(self, slot: int, value: int | None = None) -> str:
        a = slot - self.layout.spec_base
        return f"references held outside on a{a}" + ("" if value is None else f": {value}")

    def fixing(self, values: dict[int, int]) -> "CowModel":
        """This model with the parameters ``free_slots`` names set: a concrete model to replay on."""
        L = self.layout
        counts = {a: values[L.spec_base + a] for a, count in self.world.held if count is None}
        return self.world.with_held_counts(counts).model(self.policy.name, self.invariant_names)

    def footprint(self, s: tuple, key: tuple) -> tuple[set[int], set[int]]:
        """The slots the step of ``key`` reads and writes from ``s``, and those the properties read to
        judge it and the state after it; for a disabled step, what its enabledness test read.

        Found by taking the step again on a ``Tracked`` state (see ``engine.footprint``).
        """
        reads: set[int] = set()
        writes: set[int] = set()
        out = self.step(Tracked(s, reads, writes), key)
        if out:
            (act, after), = out
            after = after.frozen() if isinstance(after, Tracked) else after
            judged_before, judged_after = Tracked(s, reads, set()), Tracked(after, reads, set())
            for prop in self._properties:
                if isinstance(prop, Invariant):
                    prop.holds(judged_after)
                elif isinstance(prop, TransitionCheck) and prop.watches(act):
                    prop.holds(judged_before, act, judged_after)
        return reads, writes

    # -- coverage ------------------------------------------------------------------------
    def coverage_items(self, acts) -> set[str]:
        items = set()
        for act in acts:
            items.add(f"action:{act.kind}")
            parts = act.branch.split("+")
            items.update(part for part in parts if part in BRANCHES)
            if act.last and parts[-1] not in PARTIAL:
                items.add(f"end:{act.actor}")
        return items

    def coverage_universe(self) -> list[str]:
        """The action kinds this world can take, and the policy branches they lead to."""
        if self.scenario is None:
            kinds = [k for k, on in self.kernel.open.items() if on]
        else:
            kinds = sorted({op.kind for t in self.scenario.threads for op in t.program})
            kinds += [e for e in ("spec_get", "spec_put") if "spec" in self.scenario.events]
            kinds += ["lru_drain"] if self.kernel.lru_on else []
            kinds += ["swap_add", "swap_unmap"] if self.kernel.reclaim_on else []
            kinds += ["lock_page", "unlock_page"] if self.kernel.lock_on else []
        items = [f"action:{k}" for k in kinds]
        if self.scenario is not None:
            items += [f"end:{t.name}" for t in self.scenario.threads if t.program]
        if {"write", "store"} & set(kinds):
            items += ["reuse", "copy"]
        if self.kernel.swap_on:
            items += ["swapin", "swapin_reuse"]
        if "fork" in kinds:
            items += ["fork_share", "fork_copy"]
        return items

    def explicit_counterpart(self, labels: Sequence[str]) -> tuple[CowWorld, list[str]]:
        """Symbolic references: the explicit world at the S z3's counts need, and ``labels`` as a trace
        of it (``unknowns.explicit_counterpart``)."""
        return explicit_counterpart(self, self.world, labels)
