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

from typing import Any, NamedTuple, Sequence

from modelcheck.cow import invariants as _invariants
from modelcheck.cow.footprint import Tracked
from modelcheck.cow.layout import (MM_EXITED, MM_FLUSH_PENDING, MM_HAS_PINNED, PAGE_EXCLUSIVE, PAGE_LOCKED,
                                   PAGE_LRU_BATCH, PTE_SOFTDIRTY, PTE_SWAP,
                                   PTE_SWAP_EXCLUSIVE, PTE_UFFD_WP, PTE_WRITE, VMA_DONTFORK, VMA_UFFD_WP,
                                   VMA_WRITE, Features, Layout, pte_make, pte_page)
from modelcheck.cow.mechanisms.faults import Faults
from modelcheck.cow.mechanisms.fork import ForkExit
from modelcheck.cow.mechanisms.ghost import Ghost
from modelcheck.cow.mechanisms.gup import Gup
from modelcheck.cow.mechanisms.kernel import KernelEvents
from modelcheck.cow.mechanisms.memory import LRU_BATCH_SIZE, Memory, ValueTags
from modelcheck.cow.mechanisms.swap import Swap
from modelcheck.cow.mechanisms.tlb import PARTIAL, Tlb
from modelcheck.cow.mechanisms.wrprotect import WriteProtect
from modelcheck.cow.symmetry import Symmetry
from modelcheck.cow.policies import Policy
from modelcheck.cow.scenario import GUP_OPS, Op, Scenario
from modelcheck.cow.world import CowWorld
from modelcheck.engine.model import Invariant, TransitionCheck

OBSERVATIONS = frozenset({"read", "load", "pipe_read", "dma_read"})
# the decisions a policy takes, as coverage names them
BRANCHES = ("reuse", "copy", "copy_install", "copy_retry", "swapin", "swapin_reuse", "swap_add", "swap_unmap",
            "pageout", "lru_drain", "fork_share", "fork_copy",
            "gup_write_fault", "gup_cow_break", "uffd_fault", "unshare_keep", "unshare_copy", "wrprotect",
            "skip_pinned", "mprotect_upgrade", "tlb_write", "flush_pending", "tlb_flush", "flush_before_fault")
GUP_READS = frozenset({"get_ro", "pin_ro", "vmsplice"})


class Act(NamedTuple):
    """An action that fired: its kind, who took it, its operands, and the branch the kernel took."""

    kind: str
    actor: str       # a thread or process name, or "kernel"
    proc: int = -1   # the process acting (-1 for a kernel event)
    addr: int = -1
    page: int = -1   # kernel events on a page
    holder: int = -1 # the scenario's GUP reference, by number
    text: str = ""   # the operation as the scenario wrote it
    cell: int = 0    # the part of the page a store or load touches
    last: bool = False  # the thread's last operation (a completed one ends the thread's program)
    branch: str = ""
    unknown: tuple[tuple[str, int], ...] = ()  # symbolic references: (u<page> or h<holder>, count) z3 found


class Observation(NamedTuple):
    """What an action saw: who (the owner, for a device read), where, which page, and the value."""

    observer: int
    addr: int  # -1 for a pipe read
    cell: int
    page: int
    value: int


class _Operation:
    """An operation of the world (who, what, where), and its actions once a branch is known."""

    __slots__ = ("fields", "acts")

    def __init__(self, fields: tuple) -> None:
        self.fields = fields
        self.acts: dict[str, Act] = {}

    def act(self, branch: str) -> Act:
        act = self.acts.get(branch)
        if act is None:
            act = self.acts[branch] = Act(*self.fields, branch)
        return act


def process_name(proc: int) -> str:
    return "parent" if proc == 0 else f"child{proc}"


class CowModel(Memory, Faults, Gup, ForkExit, WriteProtect, Swap, Tlb, KernelEvents, Ghost, Symmetry):
    """The transition system of ``world`` under ``policy`` (implements ``engine.Model``)."""

    def __init__(self, world: CowWorld, policy: Policy, invariant_names: Sequence[str]) -> None:
        self.world = world
        self.policy = policy
        self.invariant_names = tuple(invariant_names)
        scenario = self.scenario = world.scenario
        self.holders = scenario.holders if scenario else ()
        P = scenario.processes if scenario else world.processes
        M = scenario.addresses if scenario else world.addresses
        open_kinds = world.actions if scenario is None else frozenset()
        self._lru_on = bool(scenario and "lru" in scenario.events)
        self._reclaim_on = bool(scenario and "swap" in scenario.events)
        self._lock_on = bool(scenario and "lock" in scenario.events)
        self._swap_on = bool(scenario and (self._reclaim_on or scenario.uses("pageout")))
        self._pte_flag_bits = bool(scenario and scenario.uses("clear_refs", "uffd_wp", "uffd_unwp"))
        if scenario is None:
            pipes = bool(open_kinds & {"vmsplice", "pipe_read"})
            spec = world.speculative if open_kinds & {"spec_get", "spec_put"} else 0
        else:
            pipes = scenario.uses("vmsplice", "pipe_read")
            spec = world.speculative if "spec" in scenario.events or world.held else 0
        features = Features(
            pipes=pipes, speculative=spec,
            pageflags=policy.uses_exclusive or self._lru_on or self._swap_on or self._lock_on,
            vma=bool(scenario and scenario.uses("mprotect_ro", "mprotect_rw", "dontfork", "uffd_wp", "uffd_unwp")),
            mm=bool(scenario and (scenario.tlb or scenario.uses("exit", *GUP_OPS))),
            tlb=bool(scenario and scenario.tlb),
            threads=len(scenario.threads) if scenario else 0,
            holders=len(self.holders),
            last_write="no_lost_write" in self.invariant_names,
            write_protect="wrprotect_effective" in self.invariant_names,
            extra_pages=self._extra_pages(scenario, P, M, pipes, spec),
            cells=scenario.cells if scenario else 1,
            held=len(world.held_unknown))
        self.layout = L = Layout(P, M, features)
        self._holder_weights = tuple((L.holder_base + n, self.pin_weight(h.is_pin))
                                     for n, h in enumerate(self.holders))
        threads = scenario.threads if scenario else ()
        self._threads_of = tuple(tuple(n for n, th in enumerate(threads) if th.proc == p) for p in range(P))
        self._thread_number = {th.name: n for n, th in enumerate(threads)}
        self._uffd_addrs = frozenset(op.addr for th in threads for op in th.program
                                     if op.kind in ("uffd_wp", "uffd_unwp"))
        writers = None
        self._write_op: dict[tuple[int, int], int] = {}  # (thread, pc) -> write operation number
        if scenario is not None:
            writers = []
            for ti, thread in enumerate(scenario.threads):
                for pc, op in enumerate(thread.program):
                    if op.kind in ("store", "dma_write"):
                        writers.append((thread.proc, f"{thread.name} step {pc + 1}: {op.text}"))
                        self._write_op[ti, pc] = len(writers)
        self.tags = ValueTags(P, writers)
        self._open = {kind: kind in open_kinds for kind in
                      ("write", "read", "munmap", "vmsplice", "pipe_read", "fork", "spec_get", "spec_put")}
        spec_events = bool(scenario and "spec" in scenario.events)
        self._spec_get_on = self._open["spec_get"] or spec_events
        self._spec_put_on = self._open["spec_put"] or spec_events
        spec_on = bool(spec)
        self._kernel_families = tuple(family for family, on in (
            (("spec_get",), self._spec_get_on and spec_on), (("spec_put",), self._spec_put_on and spec_on),
            (("lru_drain",), self._lru_on), (("unlock_page",), self._lock_on), (("lock_page",), self._lock_on),
            (("swap_add", "swap_unmap"), self._reclaim_on)) if on)
        self._bases: dict[tuple, _Operation] = {}
        self._open_bases = self._build_open_bases(P, M)
        self._kernel_base = {(kind, g): self._base(kind, "kernel", -1, -1, page=g)
                             for family in self._kernel_families for kind in family for g in range(self.layout.pages)}
        self._script_steps = [
            [(self._base(op.kind, t.name, t.proc, op.addr, self._holder_number(op), op.text, op.cell,
                         pc == len(t.program) - 1),
              *self._operation(op, t.proc, ti, pc), op.kind in ("store", "dma_write"), self._finisher(op, t.proc))
             for pc, op in enumerate(t.program)]
            for ti, t in enumerate(scenario.threads)] if scenario else []
        # symbolic references: z3 decides the refcount tests of a step (symbolic.py); explicit worlds
        # never import z3
        self._feasibility = None
        self._decisions = None   # the outcomes of the step being taken (symbolic references only)
        self._outcomes: dict[tuple, Act] = {}  # (action, unknown counts) -> the action of that outcome
        if world.symbolic_refs or world.held_unknown:
            from modelcheck.cow.symbolic import Feasibility

            self._feasibility = Feasibility()
        self._properties = tuple(_invariants.build(name, self) for name in self.invariant_names) + (
            _invariants.spurious_copy_count(self),)
        self._initial = self._initial_state()
        self._symmetry_tables()

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

    @staticmethod
    def _extra_pages(scenario: Scenario | None, P: int, M: int, pipes: bool, spec: int) -> int:
        """Scripted worlds: page slots beyond one per PTE, pipe, speculative and GUP reference.

        Every live page is held by something: a PTE (present or swap), a pipe, a
        GUP reference, a speculative reference, the LRU batch, or a copy fault in
        flight (its old and new page); a write fault allocates before it lets go
        of the old page. Those bound the pages alive at once.
        """
        if scenario is None:
            return 0  # the reference world's budget is reference-world.md's
        extra = 1
        if "lru" in scenario.events:
            extra += LRU_BATCH_SIZE
        if scenario.tlb:
            extra += 2 * len(scenario.threads)
        return extra

    def _initial_state(self) -> tuple:
        """The parent has each address mapped, written, writable, to its own page."""
        L = self.layout
        f = L.features
        t = [0] * L.size
        initial = self.tags.code(0, 0)
        for a in range(L.addresses):
            t[L.pte_index(0, a)] = pte_make(a, True, PTE_SOFTDIRTY if self._pte_flag_bits else 0)
            for cell in range(f.cells):
                t[L.value_index(a, cell)] = initial
                if f.last_write:
                    t[L.last_index(0, a, cell)] = initial
            if f.pageflags and self.policy.uses_exclusive:
                t[L.flags_base + a] = PAGE_EXCLUSIVE
            if f.vma:
                t[L.vma_base + a] = VMA_WRITE | (VMA_UFFD_WP if a in self._uffd_addrs else 0)
        for k, a in enumerate(self.world.held_unknown):  # on address a's first page, any number so far
            t[L.held_base + 3 * k] = a + 1
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
              cell: int = 0, last: bool = False, page: int = -1) -> "_Operation":
        """An operation's identity without its branch, built once; its actions are cached per branch."""
        key = (kind, actor, addr, page, holder, text, cell, last)
        op = self._bases.get(key)
        if op is None:
            op = self._bases[key] = _Operation((kind, actor, proc, addr, page, holder, text, cell, last))
        return op

    def _try(self, s: tuple, out: list, base: "_Operation", run, *args, pc_index: int = -1, finish=None) -> None:
        if self._feasibility is not None and self._decisions is None:
            self._try_every_outcome(s, out, base, run, args, pc_index, finish)
            return
        t = list(s) if s.__class__ is tuple else s.copy()  # else a Tracked state (footprints)
        branch = run(t, *args)
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

    def _try_every_outcome(self, s: tuple, out: list, base: "_Operation", run, args: tuple, pc_index: int,
                           finish) -> None:
        """Symbolic references: take the step once per feasible outcome of the refcount tests it makes.

        Each outcome's action carries the smallest counts z3 finds for it (which tells it apart from
        the operation's other outcomes); a held unknown's interval in the successor is what the state
        knew narrowed by the outcome's tests.
        """
        from modelcheck.cow.symbolic import every_outcome

        def attempt(decisions):
            self._decisions = decisions
            try:
                found: list = []
                self._try(s, found, base, run, *args, pc_index=pc_index, finish=finish)
                return found
            finally:
                self._decisions = None

        domain = self._held_domain(s)
        for found, decisions in every_outcome(self._feasibility, attempt, domain):
            tests = tuple(decisions.tests)
            counts = self._feasibility.witness(tests, domain) if tests else {}
            unknown = tuple((name, n) for name, n in sorted(counts.items()) if n)
            for act, after in found:
                if unknown:
                    act = self._outcomes.setdefault((act, unknown), act._replace(unknown=unknown))
                after = self._narrow_held(after, tests, domain)
                if (act, after) not in out:
                    out.append((act, after))

    def _held_domain(self, s: tuple) -> tuple:
        """What ``s`` knows of each held unknown still attached to a page: (name, least, most or None)."""
        L = self.layout
        domain = []
        for k in range(L.features.held):
            i = L.held_base + 3 * k
            if s[i]:
                domain.append((f"h{k}", s[i + 1], s[i + 2] - 1 if s[i + 2] else None))
        return tuple(domain)

    def _narrow_held(self, after: tuple, tests: tuple, domain: tuple) -> tuple:
        named = {n for names, _, _ in tests for n in names}
        if not any(name in named for name, _, _ in domain):
            return after
        L = self.layout
        t = list(after)
        for name, _, _ in domain:
            if name in named:
                i = L.held_base + 3 * int(name[1:])
                if t[i]:  # still attached after the step
                    least, most = self._feasibility.interval(name, tests, domain)
                    t[i + 1], t[i + 2] = least, 0 if most is None else most + 1
        return tuple(t)

    def symbolic_count(self, known: int, page: int, s: Sequence[int]) -> Any:
        """The refcount a policy sees during a symbolic step: ``known`` plus the page's unknown ones
        (transient ones, and the held ones attached to it); a plain number when it has none."""
        L = self.layout
        names = (f"u{page}",) if self.world.symbolic_refs else ()
        names += tuple(f"h{k}" for k in range(L.features.held) if s[L.held_base + 3 * k] == page + 1)
        if not names:
            return known
        from modelcheck.cow.symbolic import SymCount

        return SymCount(names, known, self._decisions)

    def figures(self) -> dict[str, float]:
        """Figures of the run beyond states and transitions (the solver's, with symbolic references)."""
        return self._feasibility.stats.as_dict() if self._feasibility is not None else {}

    def _open_successors(self, s: tuple, out: list) -> None:
        """reference-world.md: every existing process may write, read, munmap, vmsplice, read its pipe."""
        L = self.layout
        M = L.addresses
        on = self._open
        bases = self._open_bases
        has_pipes = L.pipe_base != L.value_base
        write_on, read_on, munmap_on, vmsplice_on = on["write"], on["read"], on["munmap"], on["vmsplice"]
        try_, store, munmap, vmsplice = self._try, self.op_store, self.op_munmap, self.op_vmsplice
        nforks = s[0]
        k = 1
        for p in range(nforks + 1):
            pipe_full = bool(s[L.pipe_base + p]) if has_pipes else True
            tag = self.tags.code(p, nforks)
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
                try_(s, out, self._open_pipe_reads[p], self.op_pipe_read, p)
        if on["fork"]:
            try_(s, out, self._open_fork, self.op_fork)

    def _scripted_successors(self, s: tuple, out: list) -> None:
        """Each live thread may take the next operation of its program."""
        for ti in range(len(self.scenario.threads)):
            self._thread_step(s, ti, out)

    def _thread_step(self, s: tuple, ti: int, out: list) -> None:
        """Thread ``ti``'s next operation, if its process lives and its program has one left."""
        L = self.layout
        thread = self.scenario.threads[ti]
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

    def _finisher(self, op: Op, proc: int):
        """What happens when the system call returns (a write-protect request takes effect)."""
        if op.kind in ("mprotect_ro", "uffd_wp", "clear_refs"):
            return lambda t: self.complete_write_protect(t, proc, op.kind, op.addr)
        return None

    def _operation(self, op: Op, proc: int, thread: int, pc: int):
        """The mechanism that carries out ``op`` and its arguments."""
        kind, addr = op.kind, op.addr
        if self.layout.features.tlb:
            if kind == "store":
                return self.op_tlb_store, (thread, proc, addr, op.cell, self._write_op[thread, pc])
            if kind == "load":
                return self.op_tlb_load, (thread, proc, addr)
            if kind in ("mprotect_ro", "uffd_wp", "uffd_unwp"):
                return self.two_step, (thread, proc, getattr(self, f"op_{kind}"), addr, proc, addr)
            if kind == "clear_refs" and self.policy.clear_refs_flushes_tlb:
                return self.two_step, (thread, proc, self.op_clear_refs, -1, proc)
        if kind == "store":
            return self.op_store, (proc, addr, op.cell, self._write_op[thread, pc])
        if kind == "load":
            return self.op_load, (proc, addr)
        if kind in GUP_OPS:
            return self.op_gup, (self._holder_number(op),)
        if kind == "dma_write":
            return self.op_dma_write, (self._holder_number(op), self._write_op[thread, pc])
        if kind in ("dma_read", "put"):
            return getattr(self, f"op_{kind}"), (self._holder_number(op),)
        if kind == "fork":
            return self.op_fork, ()
        if kind in ("exit", "pipe_read", "clear_refs"):
            return getattr(self, f"op_{kind}"), (proc,)
        return getattr(self, f"op_{kind}"), (proc, addr)

    def _kernel_successors(self, s: tuple, out: list) -> None:
        """The kernel events the world allows, page by page, in a fixed order."""
        pages = range(self.layout.pages)
        for family in self._kernel_families:
            for g in pages:
                for kind in family:
                    self._kernel_step(s, kind, g, out)

    def _kernel_step(self, s: tuple, kind: str, g: int, out: list) -> None:
        """Kernel event ``kind`` on page ``g``, if it is enabled."""
        L = self.layout
        vb, C, fb = L.value_base, L.features.cells, L.flags_base
        if kind == "spec_get":  # on a live page, while fewer than S speculative references exist
            if sum(s[L.spec_base:L.spec_base + L.pages]) < L.speculative and s[vb + g * C]:
                self._try(s, out, self._kernel_base[kind, g], self.op_spec, g, +1)
        elif kind == "spec_put":
            if s[L.spec_base + g]:
                self._try(s, out, self._kernel_base[kind, g], self.op_spec, g, -1)
        elif kind == "lru_drain":
            if s[fb + g] & PAGE_LRU_BATCH:
                self._try(s, out, self._kernel_base[kind, g], self.op_lru_drain, g)
        elif kind == "unlock_page":
            if s[fb + g] & PAGE_LOCKED:
                self._try(s, out, self._kernel_base[kind, g], self.op_page_lock, g, False)
        elif kind == "lock_page":  # one page locked at a time
            if s[vb + g * C] and not any(s[fb + h] & PAGE_LOCKED for h in range(L.pages)):
                self._try(s, out, self._kernel_base[kind, g], self.op_page_lock, g, True)
        elif kind in ("swap_add", "swap_unmap"):
            if s[vb + g * C]:
                run = self.op_swap_add if kind == "swap_add" else self.op_swap_unmap
                self._try(s, out, self._kernel_base[kind, g], run, g)

    HELD_MOST = 1 << 20  # the most held references a parameter stands for

    def parameters(self) -> dict[str, tuple[int, int, int]]:
        """Initial-state slots that are parameters of the run (held references in an unknown number), by
        name, with inclusive bounds: a search that takes them may leave them free."""
        L = self.layout
        return {f"references held outside on a{a}": (L.spec_base + a, 0, self.HELD_MOST)
                for a, count in self.world.held if count is None}

    def fixing(self, values: dict[str, int]) -> "CowModel":
        """This model with the parameters ``parameters`` names set: a concrete model to replay on."""
        counts = {a: values[f"references held outside on a{a}"] for a, count in self.world.held if count is None}
        return self.world.with_held_counts(counts).model(self.policy.name, self.invariant_names)

    # -- observations (what invariants judge) -----------------------------------------
    def observation(self, s: tuple, act: Act) -> Observation | None:
        """What ``act`` observes, or None when it observes nothing."""
        L = self.layout
        kind = act.kind
        if kind in ("read", "load"):
            page = -1
            if L.features.tlb:  # a cached translation wins over the PTE
                page = self.tlb_page(s, self._thread_number[act.actor], act.addr)
            if page < 0:
                page = pte_page(s[L.pte_index(act.proc, act.addr)])
            return Observation(act.proc, act.addr, act.cell, page, s[L.value_index(page, act.cell)])
        if kind == "pipe_read":
            page = s[L.pipe_base + act.proc] - 1
            return Observation(act.proc, -1, 0, page, s[L.value_index(page)])
        if kind == "dma_read":
            h = self.holders[act.holder]
            page = s[L.holder_base + act.holder] - 1
            return Observation(h.proc, h.addr, h.cell, page, s[L.value_index(page, h.cell)])
        return None

    def process_alive(self, s: tuple, proc: int) -> bool:
        L = self.layout
        return proc <= s[0] and not (L.features.mm and s[L.mm_base + proc] & MM_EXITED)

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
            kinds = [k for k, on in self._open.items() if on]
        else:
            kinds = sorted({op.kind for t in self.scenario.threads for op in t.program})
            kinds += [e for e in ("spec_get", "spec_put") if "spec" in self.scenario.events]
            kinds += ["lru_drain"] if self._lru_on else []
            kinds += ["swap_add", "swap_unmap"] if self._reclaim_on else []
            kinds += ["lock_page", "unlock_page"] if self._lock_on else []
        items = [f"action:{k}" for k in kinds]
        if self.scenario is not None:
            items += [f"end:{t.name}" for t in self.scenario.threads if t.program]
        if {"write", "store"} & set(kinds):
            items += ["reuse", "copy"]
        if self._swap_on:
            items += ["swapin", "swapin_reuse"]
        if "fork" in kinds:
            items += ["fork_share", "fork_copy"]
        return items

    # -- words for people -----------------------------------------------------------------
    def action_actor(self, act: Act) -> str:
        return act.actor

    def action_label(self, act: Act) -> str:
        if act.actor == "kernel":
            label = f"kernel {act.kind}(page {act.page})"
        elif act.text:
            label = f"{act.actor} {act.text}"
        else:
            label = f"{act.actor} {act.kind}(a{act.addr})" if act.addr >= 0 else f"{act.actor} {act.kind}()"
        if self._feasibility is not None:  # one operation has a successor per outcome: name the outcome
            label += f" [{act.branch}" + "".join(f"; {self._unknown_words(name, n)}" for name, n in act.unknown) + "]"
        return label

    @staticmethod
    def _unknown_words(name: str, n: int) -> str:
        return f"{n} unknown on page {name[1:]}" if name[0] == "u" else f"{n} held outside ({name})"

    def explicit_counterpart(self, labels: Sequence[str]) -> tuple[CowWorld, list[str]]:
        """Symbolic references: the explicit world at the S z3's counts need, and ``labels`` as a trace
        of it. Held references are taken first, as many as the last state allows at least, as
        speculative references on their pages that stay; each step's transient ones are taken before
        it and dropped after it (except after the last, the violating one)."""
        state, steps, most = self._initial, [], 0
        for n, label in enumerate(labels, start=1):
            options = {self.action_label(a): (a, t) for a, t in self.successors(state)}
            if label not in options:
                raise ValueError(f"step {n} '{label}' is not enabled")
            act, after = options[label]
            transient = [(int(name[1:]), k) for name, k in act.unknown if name[0] == "u"]
            most = max(most, sum(k for _, k in transient))
            steps += [f"kernel spec_get(page {page})" for page, k in transient for _ in range(k)]
            steps.append(label.rpartition(" [")[0])
            if n < len(labels):
                steps += [f"kernel spec_put(page {page})" for page, k in transient for _ in range(k)]
            state = after
        L = self.layout
        held = [(self.world.held_unknown[k], state[L.held_base + 3 * k + 1]) for k in range(L.features.held)]
        first = [f"kernel spec_get(page {a})" for a, k in held for _ in range(k)]
        return self.world.with_speculative(most + sum(k for _, k in held)), first + steps

    def value_words(self, code: int) -> str:
        return self.tags.words(code)

    def describe_transition(self, before: tuple, act: Act, after: tuple) -> list[str]:
        L = self.layout
        lines: list[str] = []
        if act.unknown:  # symbolic references: the counts z3 found for this step
            lines.append("unknown references (speculative, or held outside the scenario) during this step: "
                         + ", ".join(self._unknown_words(name, n).replace(" unknown", "") for name, n in act.unknown))
        branch = act.branch
        for part in branch.split("+"):
            if part in ("reuse", "copy") and act.kind not in ("fork",):
                k = L.pte_index(act.proc, act.addr)
                page = pte_page(before[k])
                c = self.info(before, page, act.proc)
                lines.append(f"write fault on read-only page {page} (mapcount {c.mapcount}, refcount {c.refcount}"
                             + (", exclusive" if c.exclusive else "") + f"): {self.policy.name} decides {part}")
            elif part in _BRANCH_WORDS:
                lines.append(_BRANCH_WORDS[part].format(policy=self.policy.name))
        seen = self.observation(before, act)
        if seen is not None:
            part = f" (part {seen.cell})" if L.features.cells > 1 else ""
            who = act.actor if act.kind in ("load", "read") else process_name(seen.observer)
            lines.append(f"{who} observes {self.value_words(seen.value)} on page {seen.page}{part}")
        if after[0] != before[0]:
            lines.append(f"child{after[0]} created (fork {after[0]})")
        for p in range(L.processes):
            name = process_name(p)
            for a in range(L.addresses):
                i = L.pte_index(p, a)
                if before[i] != after[i]:
                    lines.append(f"{name} PTE a{a}: {self._pte_words(before[i])} -> {self._pte_words(after[i])}")
                if L.features.vma:
                    i = L.vma_base + p * L.addresses + a
                    if before[i] != after[i]:
                        lines.append(f"{name} VMA a{a}: {_vma_words(before[i])} -> {_vma_words(after[i])}")
            if L.pipe_base != L.value_base:
                i = L.pipe_base + p
                if before[i] != after[i]:
                    lines.append(f"{name} pipe: {_slot_words(before[i])} -> {_slot_words(after[i])}")
            if L.features.mm:
                i = L.mm_base + p
                if before[i] & MM_HAS_PINNED != after[i] & MM_HAS_PINNED:
                    lines.append(f"{name} mm: MMF_HAS_PINNED set")
                if after[i] & MM_EXITED and not before[i] & MM_EXITED:
                    lines.append(f"{name} exited")
        for n, h in enumerate(self.holders):
            i = L.holder_base + n
            if before[i] != after[i]:
                lines.append(f"{h.kind} {h.name}: {_slot_words(before[i])} -> {_slot_words(after[i])}")
        if L.features.tlb:
            for n, th in enumerate(self.scenario.threads):
                for a in range(L.addresses):
                    i = self.tlb_index(n, a)
                    if before[i] != after[i]:
                        lines.append(f"{th.name} TLB a{a}: {_tlb_words(before[i])} -> {_tlb_words(after[i])}")
        for g in range(L.pages):
            old, new = self._page_words(before, g), self._page_words(after, g)
            if old != new:
                lines.append(f"page {g}: {old} -> {new}")
        return lines

    def _pte_words(self, pte: int) -> str:
        if not pte:
            return "none"
        if pte & PTE_SWAP:
            return f"swap entry for page {pte_page(pte)}" + (" (exclusive)" if pte & PTE_SWAP_EXCLUSIVE else "")
        text = f"page {pte_page(pte)} " + ("writable" if pte & PTE_WRITE else "read-only")
        if self._pte_flag_bits:
            text += " soft-dirty" if pte & PTE_SOFTDIRTY else ""
            text += " uffd-wp" if pte & PTE_UFFD_WP else ""
        return text

    def _page_words(self, s: tuple, g: int) -> str:
        L = self.layout
        if not self.page_live(s, g):
            return "free"
        values = ", ".join("({},{})".format(*self.tags.decode(s[L.value_index(g, cell)]))
                           for cell in range(L.features.cells))
        c = self.info(s, g)
        text = f"value {values} mapcount {c.mapcount} refcount {c.refcount}"
        if L.speculative and s[L.spec_base + g]:
            text += f" spec {s[L.spec_base + g]}"
        if c.exclusive:
            text += " exclusive"
        if c.in_lru_batch:
            text += " in-LRU-batch"
        if c.in_swapcache:
            text += f" in-swap-cache swapcount {c.swapcount}"
        if c.locked:
            text += " locked"
        return text

    def state_to_json(self, s: tuple) -> dict[str, Any]:
        L = self.layout
        f = L.features
        processes = {}
        for p in range(s[0] + 1):
            ptes = {}
            for a in range(L.addresses):
                pte = s[L.pte_index(p, a)]
                entry = None
                if pte & PTE_SWAP:
                    entry = {"swap": pte_page(pte), "exclusive": bool(pte & PTE_SWAP_EXCLUSIVE)}
                elif pte:
                    entry = {"page": pte_page(pte), "writable": bool(pte & PTE_WRITE)}
                    if self._pte_flag_bits:
                        entry.update(soft_dirty=bool(pte & PTE_SOFTDIRTY), uffd_wp=bool(pte & PTE_UFFD_WP))
                ptes[f"a{a}"] = entry
            proc: dict[str, Any] = {"pte": ptes}
            if L.pipe_base != L.value_base:
                pipe = s[L.pipe_base + p]
                proc["pipe"] = pipe - 1 if pipe else None
            if f.vma:
                proc["vma"] = {f"a{a}": _vma_words(s[L.vma_base + p * L.addresses + a]) for a in range(L.addresses)}
            if f.mm:
                proc["has_pinned"] = bool(s[L.mm_base + p] & MM_HAS_PINNED)
                proc["exited"] = bool(s[L.mm_base + p] & MM_EXITED)
            processes[process_name(p)] = proc
        pages = {}
        for g in range(L.pages):
            if self.page_live(s, g):
                c = self.info(s, g)
                entry = {"value": list(self.tags.decode(s[L.value_index(g)])), "mapcount": c.mapcount,
                         "refcount": c.refcount, "spec": s[L.spec_base + g] if L.speculative else 0}
                if f.cells > 1:
                    entry["values"] = [list(self.tags.decode(s[L.value_index(g, cell)])) for cell in range(f.cells)]
                if f.pageflags:
                    entry.update(exclusive=c.exclusive, lru_batch=c.in_lru_batch)
                if self._swap_on:
                    entry.update(swapcache=c.in_swapcache, swapcount=c.swapcount)
                pages[str(g)] = entry
        state: dict[str, Any] = {"nforks": s[0], "processes": processes, "pages": pages}
        if self.holders:
            state["holders"] = {h.name: (s[L.holder_base + n] - 1 if s[L.holder_base + n] else None)
                                for n, h in enumerate(self.holders)}
        if self.scenario is not None:
            state["pc"] = {t.name: s[L.pc_base + n] for n, t in enumerate(self.scenario.threads)}
        if f.held:  # what the steps have learnt of the references held outside the scenario
            state["held_outside"] = {f"h{k}": None if not s[i] else {
                "page": s[i] - 1, "least": s[i + 1], "most": s[i + 2] - 1 if s[i + 2] else None}
                for k, i in enumerate(range(L.held_base, L.held_base + 3 * f.held, 3))}
        if f.tlb:
            state["tlb"] = {th.name: {f"a{a}": _tlb_words(s[self.tlb_index(n, a)]) for a in range(L.addresses)}
                            for n, th in enumerate(self.scenario.threads)}
            state["flush_pending"] = {process_name(p): s[L.mm_base + p] // MM_FLUSH_PENDING
                                      for p in range(s[0] + 1)}
        return state


_BRANCH_WORDS = {
    "gup_cow_break": "GUP breaks COW first: a write fault although the GUP only reads ({policy})",
    "gup_write_fault": "GUP with FOLL_WRITE on a read-only PTE: a write fault first",
    "uffd_fault": "the write fault hits a uffd-wp PTE: a userfault is raised and resolved",
    "unshare_keep": "unsharing fault: the page is exclusive to this mm already; it stays mapped read-only",
    "unshare_copy": "unsharing fault: the page is copied into a fresh exclusive page, mapped read-only",
    "fork_copy": "fork copies a maybe-pinned page for the child ({policy})",
    "skip_pinned": "a maybe-pinned page is skipped ({policy})",
    "mprotect_upgrade": "mprotect maps the exclusive page writable at once ({policy})",
    "lru_drain": "the local LRU batch is drained before deciding",
    "swapin": "swap-in fault: the swap-cache page is mapped read-only",
    "swapin_reuse": "swap-in write fault: {policy} maps the swap-cache page writable at once",
    "copy_start": "wp_page_copy: the old page is copied now; the new PTE goes in later",
    "copy_install": "wp_page_copy installs the copy: the PTE is flushed and replaced",
    "copy_retry": "the PTE changed meanwhile: the copy is dropped and the fault retried",
    "tlb_write": "the store goes through a cached writable TLB entry, without looking at the PTE",
    "tlb_read": "the load goes through a cached TLB entry",
    "flush_pending": "PTEs changed; the TLB flush is deferred (mm->tlb_flush_pending raised)",
    "tlb_flush": "the deferred TLB flush is done; the system call returns",
    "flush_before_fault": "a TLB flush is pending in this uffd-wp VMA: the fault flushes first ({policy})",
}


def _vma_words(flags: int) -> str:
    words = ["VM_WRITE" if flags & VMA_WRITE else "read-only"]
    if flags & VMA_DONTFORK:
        words.append("VM_DONTFORK")
    return " ".join(words)


def _tlb_words(entry: int) -> str:
    return "empty" if not entry else f"page {(entry >> 1) - 1} " + ("writable" if entry & 1 else "read-only")


def _slot_words(code: int) -> str:
    return "empty" if code == 0 else f"page {code - 1}"


class KeyedCowModel(CowModel):
    """A scripted world without symbolic references: its steps come one key at a time (``StepKeyed``,
    ``Footprinted``)."""

    # -- footprints (for dynamic partial-order reduction) ---------------------------------------
    def step_key(self, act: Act) -> tuple:
        """A thread of the script, or a kernel event on one page."""
        if act.proc < 0:
            return (act.kind, act.page)
        return ("thread", act.actor)

    def step_keys(self) -> list[tuple]:
        """Every thread and every kernel event on every page."""
        return [("thread", t.name) for t in self.scenario.threads] + list(self._kernel_base)

    def step(self, s: Any, key: tuple) -> list[tuple[Act, Any]]:
        """The enabled action of ``key`` (a thread, or a kernel event on a page) with its successor."""
        out: list = []
        if key[0] == "thread":
            self._thread_step(s, self._thread_number[key[1]], out)
        else:
            self._kernel_step(s, key[0], key[1], out)
        return out

    def footprint(self, s: tuple, key: tuple) -> tuple[set[int], set[int]]:
        """The slots the step of ``key`` reads and writes from ``s``, and those the properties read to
        judge it and the state after it; for a disabled step, what its enabledness test read.

        Found by taking the step again on a ``Tracked`` state (see ``footprint.py``).
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
