"""A counterexample as a C program for Linux: the same system calls in the same order, checked on the running kernel.

``c_program(record)`` turns a trace record (a ``modelcheck.trace/3`` trace, as
a check writes it) into one standalone C file. Each address of the world is a
page of private anonymous memory; each process of the trace is a real process
(the parent forks at the trace's fork steps); the threads of one process run
their steps on its one thread, in the trace's order (outside TLB worlds the
model keeps no state per thread). A token passed through one pipe per process
forces the trace's interleaving: a process runs its next step only when the
step before it, in the trace, is done. A scenario's own ordering is done as
cow.c does it: ``wait childN`` is waitpid() of that child, and a token
(``signal T`` / ``await T``) a byte left in a pipe of its own.

What each operation is as system calls is the table ``SNIPPETS`` (one C
snippet per operation kind); what no user program can force (a kernel event,
a stale TLB entry, a reference held across other steps inside one system
call) is the table ``UNFORCEABLE``, and such a trace becomes a program that
reports ``unsupported`` with the reason, never a verdict. A property the
running kernel does not show to user space (refcounts, which decisions a
fault took inside the kernel) is ``unsupported`` too.

The program checks the trace's property on the running kernel, at every step
where the model judges it: a value a process, its pipe or its device sees is
compared with the writes the property allows it to see (the values are the
step numbers of the writes), a pin's page with the page the owner maps
(page frame numbers from /proc/self/pagemap, root only), a write fault's page
before and after (pagemap and /proc/kpagecount), a store after clear_refs with
the soft-dirty bit. It prints TAP in the kselftest style and one line
``RESULT <scenario> holds|violated|unsupported <detail>``. A feature the
kernel lacks (io_uring, swap, soft-dirty, page frame numbers) makes it skip,
with the reason, as ``unsupported``.

``era_policy(release)`` names the merged policy whose declared releases cover
a kernel release (``uname -r``), so a live result is compared with the model
under the rule of the running kernel's era.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from modelcheck.cow.actions import process_name
from modelcheck.cow.config import FULL_KERNEL, KernelConfig
from modelcheck.cow.operations import OPERATIONS
from modelcheck.cow.policies.releases import era_policy, kernel_version
from modelcheck.cow.scenario import FILE_KINDS, Op, ScenarioError, parse_op
from modelcheck.cow.trace_scenario import OPEN_TO_SCRIPTED  # an open world's actions, as scripted operations

__all__ = ["OBSERVABLE", "SNIPPETS", "UNFORCEABLE", "Unreproducible", "c_program", "era_policy", "kernel_version"]


class Unreproducible(ValueError):
    """A trace that cannot become a C program at all (not a concrete schedule of named operations)."""


# -- the era of a kernel release: the policies' own declared releases (``policies.releases``) -----------------

# -- what each operation is on a real kernel -----------------------------------------------------------------

# kind -> the C call of one step; {a} the address, {c} the cell, {h} the holder's number, {p} the process, {v}
# the value a write leaves, {s} the step number, {k} the forks so far (for a fork: its child's number), {w} the
# child a wait reaps, {t} a token's number (a pipe of its own, made before the first fork). Each
# helper returns 1, or says why it could not do the step and returns 0: the process then stops, and the run is
# unsupported, not a verdict.
SNIPPETS: dict[str, str] = {
    "fork": "do_fork({s}, {k}, proc{k})",
    "store": "do_store({s}, {a}, {c}, {v})",
    "load": "do_load({s}, {a}, {c}, &seen)",
    "munmap": "do_munmap({s}, {a})",
    "mprotect_ro": "do_mprotect({s}, {a}, PROT_READ)",
    "mprotect_rw": "do_mprotect({s}, {a}, PROT_READ | PROT_WRITE)",
    "dontfork": "do_madvise({s}, {a}, MADV_DONTFORK, \"MADV_DONTFORK\")",
    "madvise_mergeable": "do_madvise({s}, {a}, MADV_MERGEABLE, \"MADV_MERGEABLE\")",
    "madvise_unmergeable": "do_madvise({s}, {a}, MADV_UNMERGEABLE, \"MADV_UNMERGEABLE\")",
    "pageout": "do_pageout({s}, {a})",
    "clear_refs": "do_clear_refs({s})",
    "vmsplice": "do_vmsplice({s}, {p}, {a})",
    "pipe_read": "do_pipe_read({s}, {p}, &seen)",
    "pin_rw": "do_pin({s}, {h}, {a})",
    "iouring_register": "do_register({s}, {h}, {a})",
    "dma_read": "do_dma_read({s}, {h}, {c}, &seen)",
    "dma_write": "do_dma_write({s}, {h}, {c}, {v})",
    "put": "do_unpin({s}, {h})",
    "wait": "do_wait({s}, {w})",
    "signal": "do_signal({s}, {t})",
    "await": "do_await({s}, {t})",
    "uffd_move": "do_uffd_move({s}, {a}, {b})",
    "mremap": "do_mremap({s}, {a}, {b})",
    "dontneed": "do_madvise({s}, {a}, MADV_DONTNEED, \"MADV_DONTNEED\")",
    "dofork": "do_madvise({s}, {a}, MADV_DOFORK, \"MADV_DOFORK\")",
    "force_write": "do_force_write({s}, {a}, {c}, {v})",
    "munmap_thp": "do_thp_munmap({s})",
    "mprotect_thp_ro": "do_thp_mprotect({s}, PROT_READ)",
    "mprotect_thp_rw": "do_thp_mprotect({s}, PROT_READ | PROT_WRITE)",
    "collapse_thp": "do_thp_madvise({s}, MADV_COLLAPSE, \"MADV_COLLAPSE\")",
    "pageout_thp": "do_thp_madvise({s}, MADV_PAGEOUT, \"MADV_PAGEOUT\")",
    # the same call, checked to have left the folio in the swap cache (a swap device that writes asynchronously)
    "pageout_thp_cached": "do_thp_pageout_cached({s})",
}

NO_SWAP_EXCLUSIVE_BIT = ("the trace is of an architecture without the swap-PTE exclusive bit "
                         "(__HAVE_ARCH_PTE_SWP_EXCLUSIVE), which no program can choose (every architecture with swap "
                         "has it from 6.3)")
NO_SWAP_PAGEOUT = "do_pageout_no_swap({s}, {a})"  # a kernel without swap: the page must stay in memory

# what a user program cannot make happen at the step the trace puts it: kind (or world feature) -> why
UNFORCEABLE: dict[str, str] = {
    "spec_get": "a speculative page reference (a lockless page-cache or GUP-fast lookup elsewhere) cannot be "
                "taken or dropped at will by a user program",
    "spec_put": "a speculative page reference cannot be taken or dropped at will by a user program",
    "lock_page": "a page lock held by another kernel path (reclaim, migration, KSM) cannot be taken at will by a "
                 "user program",
    "unlock_page": "a page lock held by another kernel path cannot be released at will by a user program",
    "lru_drain": "when the per-CPU LRU batch is drained is the kernel's choice",
    "swap_add": "reclaim adding a page to the swap cache at a chosen moment cannot be forced by a user program",
    "swap_unmap": "reclaim unmapping a page at a chosen moment cannot be forced by a user program",
    "ksm_merge": "when ksmd scans and merges a page is the kernel's choice (a program can only wait for it)",
    "migrate": "which page compaction migrates, and when, is the kernel's choice (move_pages moves a page only "
               "to another NUMA node)",
    "writeback_end": "when the swap device finishes writing a folio out is the device's choice, not the program's",
    "tlb": "the trace relies on a stale TLB entry (a deferred TLB flush), which no user program can hold open",
    "lru_batch": "whether a page sits in a per-CPU LRU batch (holding a reference) is the kernel's choice",
    "get_ro": "a FOLL_GET reference held across other steps is a driver's, which no user program can take and "
              "keep at will (O_DIRECT drops its reference inside the system call)",
    "get_rw": "a FOLL_GET reference held across other steps is a driver's, which no user program can take and "
              "keep at will (O_DIRECT drops its reference inside the system call)",
    "dio_read": "O_DIRECT takes, uses and drops its reference (FOLL_GET, FOLL_PIN from v6.5) inside one system "
                "call, so no other step can come between",
    "dio_write": "O_DIRECT takes, uses and drops its reference (FOLL_GET, FOLL_PIN from v6.5) inside one system "
                 "call, so no other step can come between",
    "pin_ro_fast": "a FOLL_PIN through GUP-fast is reachable from user space only through the gup_test debugfs "
                   "file (CONFIG_GUP_TEST) or RDMA hardware, which this reproducer does not drive",
    "pin_rw_fast": "a FOLL_PIN through GUP-fast is reachable from user space only through the gup_test debugfs "
                   "file (CONFIG_GUP_TEST) or RDMA hardware, which this reproducer does not drive",
    "pin_ro": "a read-only FOLL_PIN|FOLL_LONGTERM pin is reachable from user space only through the gup_test "
              "debugfs file (CONFIG_GUP_TEST), which this reproducer does not drive",
    "uffd_wp": "a store to a uffd-wp page waits for a userfaultfd handler to resolve it; the reproducer runs none",
    "uffd_unwp": "a store to a uffd-wp page waits for a userfaultfd handler to resolve it; the reproducer runs none",
    "uffd_continue": "UFFDIO_CONTINUE needs a userfaultfd registered for minor faults and a thread that answers "
                     "them; the reproducer opens none",
    "uffd_wp_async": "the reproducer opens no userfaultfd (an async one, UFFD_FEATURE_WP_ASYNC, needs no handler, "
                     "but its setup is not written yet)",
    "exit": "the parent's exit would end the program that reports",
    "partial": "the trace stops inside one system call (a fault and its retry, with other steps between), which no "
               "user program can hold open at will",
    "held_outside": "references held outside the scenario (unknown holders) are not something a program can make",
}

# the properties the program can judge, and what each needs of the running kernel
OBSERVABLE: dict[str, str] = {
    "no_leak_to_child": "values the child sees through its mapping, its pipe or its device",
    "no_leak_to_parent": "values the parent sees through its mapping, its pipe or its device",
    "no_leak_across_fork": "values each process sees through its mapping, its pipe or its device",
    "no_lost_write": "values the owner and its device see, against its last completed write",
    "pin_coherent": "the pinned page's frame number against the owner's mapping (pagemap, root)",
    "allowed_pin_not_refused": "whether io_uring's buffer registration (a long-term writable pin) is refused",
    "private_write_stays_private": "the file's contents (pread) after each write through a private mapping",
    "no_longterm_pin_of_dirty_tracked_file": "whether io_uring's buffer registration (a long-term writable pin) "
                                             "is refused",
    "no_spurious_copy": "a write fault's page frame before and after, of a page mapped once (pagemap, kpagecount, "
                        "root)",
    "wrprotect_effective": "the soft-dirty bit a store after clear_refs leaves (a fault sets it)",
}
UNOBSERVABLE: dict[str, str] = {
    "ksm_unmerged": "whether an address still maps a KSM page (/proc/self/ksm_merging_pages) is not read by this "
                    "reproducer",
    "uffd_wp_effective": "whether a store waited for a userfaultfd handler needs one, and the reproducer runs none",
    "refcount_sane": "page reference counts are not visible from user space",
    "zero_page_pins_bounded": "the shared zero page's reference count is not visible from user space",
    "read_gup_no_write_fault": "whether a GUP took a write fault inside the kernel is not visible from user space",
    "pin_checks_exact": "which pages fork and clear_refs took for pinned (page_maybe_dma_pinned) is not visible "
                        "from user space",
    "large_folio_exclusive_when_writable": "which processes map a large folio is not visible from user space "
                                           "(the reproducer reads no /proc/pid/pagemap)",
    "refcount_covers_mapcount": "a folio's mapcount and reference count are not visible from user space",
    "no_kernel_warning": "a warning is the kernel's log (dmesg), and the race between two of its steps that fires "
                         "one is not a schedule user space can force",
}

_ANNOTATION = re.compile(r"\s+\[[^\]]*\]$")  # a label's branch annotation, e.g. "[gup]"
_THREAD = re.compile(r"^(parent|child([1-9][0-9]*))(?:\.[0-9]+)?$")
INITIAL_VALUE = 0x00C0FFEE00000000  # the value step n's write leaves is INITIAL_VALUE + n


@dataclass(frozen=True)
class Step:
    """One step of the trace as the program does it."""

    number: int  # 1-based
    actor: str
    proc: int    # 0 the parent, i child i
    op: Op
    label: str
    after: Mapping[str, Any] = field(default_factory=dict)  # the model's state after it (the trace's)


@dataclass
class _Writes:
    """What the property allows, step by step: who wrote each value, when, and each owner's last write."""

    writer: dict[int, int] = field(default_factory=lambda: {INITIAL_VALUE: 0})  # value -> process
    forks_before: dict[int, int] = field(default_factory=lambda: {INITIAL_VALUE: 0})  # value -> forks done before
    words: dict[int, str] = field(default_factory=lambda: {INITIAL_VALUE: "the initial contents"})
    last: dict[tuple[int, int, int], int] = field(default_factory=dict)  # (proc, addr, cell) -> value


def _actor_proc(actor: str) -> int:
    m = _THREAD.match(actor)
    if not m:
        raise Unreproducible(f"step actor {actor!r} is not a process of the world (parent, child1, ...)")
    return int(m.group(2)) if m.group(2) else 0


def _parse_step(number: int, step: Mapping[str, Any]) -> Step | str:
    """The step as an operation, or the reason no user program can force it (a kernel event)."""
    label = _ANNOTATION.sub("", str(step["label"]))
    head, _, rest = label.partition(" ")
    actor = str(step.get("actor") or head)
    if not rest or head != actor:
        raise Unreproducible(f"step {number} {label!r} names no actor")
    if actor == "kernel":
        kind = rest.split("(", 1)[0]
        return UNFORCEABLE.get(kind, f"the kernel's own step {rest!r} cannot be forced by a user program")
    text = rest
    call = re.match(r"^([a-z_]+)\((.*)\)$", rest)  # the open world writes fork(), write(a0), pipe_read()
    if call:
        text = " ".join([OPEN_TO_SCRIPTED.get(call.group(1), call.group(1))] + ([call.group(2)] if call.group(2) else []))
    try:
        op = parse_op(text, f"step {number}")
    except ScenarioError as err:
        raise Unreproducible(str(err)) from None
    return Step(number, actor, _actor_proc(actor), op, label, step.get("state") or {})


def _steps(record: Mapping[str, Any]) -> tuple[list[Step], list[str]]:
    """The trace's steps, and the reasons (if any) that some cannot be forced."""
    if record.get("parameters"):
        raise Unreproducible("the trace leaves parameters to a solver (symbolic references); a C program needs "
                             "concrete numbers")
    if record.get("variants"):
        raise Unreproducible(f"the trace is of a world variant ({', '.join(record['variants'])}), not a concrete "
                             "schedule")
    steps: list[Step] = []
    why: list[str] = []
    initial = record.get("initial_state") or {}
    if "tlb" in initial:
        why.append(UNFORCEABLE["tlb"])
    states = [initial] + [raw.get("state") or {} for raw in record.get("steps", [])]
    if any(page.get("lru_batch") for state in states for page in state.get("pages", {}).values()):
        why.append(UNFORCEABLE["lru_batch"])
    if initial.get("held_outside"):
        why.append(UNFORCEABLE["held_outside"])
    raws = record.get("steps", [])
    for number, raw in enumerate(raws, start=1):
        parsed = _parse_step(number, raw)
        if isinstance(parsed, str):
            why.append(f"step {number}: {parsed}")
            continue
        kind = parsed.op.kind
        before, after = states[number - 1].get("pc") or {}, states[number].get("pc") or {}
        if parsed.actor in after and after.get(parsed.actor) == before.get(parsed.actor, 0):
            following = _parse_step(number + 1, raws[number]) if number < len(raws) else None
            if not isinstance(following, Step) or following.actor != parsed.actor:
                steps.append(parsed)
                why.append(f"step {number} ({kind}): {UNFORCEABLE['partial']}")
            # else the same system call goes on at the next step, with nothing between: it is done there
            continue
        steps.append(parsed)
        if kind == "exit" and parsed.proc > 0:
            continue
        if kind in UNFORCEABLE:
            why.append(f"step {number} ({kind}): {UNFORCEABLE[kind]}")
        elif kind not in SNIPPETS and kind != "exit":
            why.append(f"step {number} ({kind}): no system call of this reproducer does it")
    prop = str(record.get("property", ""))
    if prop in UNOBSERVABLE:
        why.append(f"the property {prop}: {UNOBSERVABLE[prop]}")
    elif prop not in OBSERVABLE:
        raise Unreproducible(f"the trace's property {prop!r} is not one the reproducer knows")
    return steps, list(dict.fromkeys(why))


# -- the checks: what the property allows at each step ---------------------------------------------------------

_REFUSALS = ("allowed_pin_not_refused", "no_longterm_pin_of_dirty_tracked_file")  # judged at the registration
_LEAK_OBSERVERS = {"no_leak_to_child": lambda p: p > 0, "no_leak_to_parent": lambda p: p == 0,
                   "no_leak_across_fork": lambda p: True}


def _may_observe(w: _Writes, observer: int, value: int) -> bool:
    """The model's rule (``invariants.may_observe``) on the program's values: the parent sees its own writes; a
    child its own and the parent's from before the child was forked."""
    writer, forks = w.writer[value], w.forks_before[value]
    if observer == 0:
        return writer == 0
    return writer == observer or (writer == 0 and forks < observer)


def _c_string(text: str) -> str:
    """A C string literal of ``text`` (printable ASCII; anything else as an escape)."""
    out = []
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif " " <= ch <= "~":
            out.append(ch)
        else:
            out.append("?")
    return '"' + "".join(out) + '"'


def _mapped_after(step: Step, proc: int, addr: int) -> bool:
    """Whether the model's state after ``step`` has ``addr`` of ``proc`` mapped (the trace's own words)."""
    processes = step.after.get("processes") or {}
    return bool((processes.get(process_name(proc)) or {}).get("pte", {}).get(f"a{addr}"))


def _who(proc: int) -> str:
    return "the parent" if proc == 0 else f"child{proc}"


class _Plan:
    """Walks the steps once, keeping what the checks need (who wrote which value, each owner's last write, the
    pins held, what a clear_refs asked), and writes each step's C statements with its checks."""

    def __init__(self, steps: Sequence[Step], prop: str, config: KernelConfig = FULL_KERNEL,
                 fresh: frozenset[int] = frozenset(), file: str = "", maps: Mapping[int, str] | None = None,
                 thp: int = 0, thp_pte: bool = False, hugetlb: bool = False) -> None:
        self.steps, self.prop, self.config = steps, prop, config
        self.thp, self.thp_pte = thp, thp_pte  # the THP's pages at a0 .. (0: none), and whether PTE-mapped
        self.hugetlb = hugetlb  # every address is a hugetlb page of its own (MAP_HUGETLB)
        self.file, self.maps = file, dict(maps or {})  # the file the world maps, and how each address maps it
        self.fresh = fresh  # addresses that start untouched: zeros, and no page until their first access
        self.untouched = set(fresh)  # fresh addresses no store has faulted a page in for yet
        self.addresses = max([max(s.op.addr, s.op.target) for s in steps] + [thp - 1, 0]) + 1
        self.cells = max([s.op.cell for s in steps] + [0]) + 1
        self.writes = _Writes()
        self.forks = 0
        self.waited: set[int] = set()  # the children the parent has waited for (exited: they map nothing)
        self.cached_folio = False  # a pageout_thp_cached has left the THP's folio whole in the swap cache
        self.holders: dict[str, tuple[int, int, int, int]] = {}  # name -> (number, proc, addr, cell)
        self.held: set[str] = set()
        self.pipe_of: dict[int, int] = {}  # proc -> the address its unread pipe holds
        self.wp_asked: set[tuple[int, int]] = set()  # (proc, addr): a clear_refs may have asked for a fault
        self.tokens: dict[str, int] = {}  # token -> its number (its pipe), in the order the steps first name it
        self.titles: list[str] = []  # check slot -> its TAP description
        self.code: dict[int, list[str]] = {}  # step -> its C statements
        if fresh or any(s.op.kind in ("uffd_move", "dontneed") for s in steps):  # (an emptied address reads zeros)
            self.writes.writer[0], self.writes.forks_before[0] = 0, 0
            self.writes.words[0] = "zeros (an untouched page, or the zero page)"
        for a in range(self.addresses):
            for c in range(self.cells):
                self.writes.last[(0, a, c)] = 0 if a in fresh else INITIAL_VALUE
        for step in steps:
            self.code[step.number] = self._step(step)

    def _slot(self, step: Step, what: str) -> int:
        self.titles.append(f"step {step.number} {step.label}: {self.prop}: {what}")
        return len(self.titles) - 1

    def _value_check(self, step: Step, allowed: Sequence[int], what: str) -> str:
        values = sorted(set(allowed))
        slot = self._slot(step, what)
        listed = ", ".join(f"{v:#x}ULL" for v in values)
        return (f"{{ static const uint64_t allowed[] = {{ {listed} }}; "
                f"judge_value({slot}, seen, allowed, {len(values)}); }}")

    def _observation(self, step: Step, observer: int, addr: int, cell: int) -> list[str]:
        """The checks of the value ``observer`` saw at ``step`` (``seen`` in the C code)."""
        w, kind = self.writes, step.op.kind
        if self.prop in _LEAK_OBSERVERS and _LEAK_OBSERVERS[self.prop](observer):
            other = INITIAL_VALUE if addr in self.fresh else 0  # the other address kind's first contents
            allowed = [v for v in w.writer if _may_observe(w, observer, v) and v != other]
            return [self._value_check(step, allowed, f"{_who(observer)} sees only its own or inherited writes")]
        if self.prop == "no_lost_write" and kind in ("load", "dma_read"):
            last = w.last.get((observer, addr, cell))
            if last is not None:
                return [self._value_check(step, [last], f"{_who(observer)} sees its last completed write "
                                                        f"({w.words[last]})")]
        return []

    def _wrote(self, step: Step, proc: int, addr: int, cell: int) -> str:
        value = INITIAL_VALUE + step.number
        w = self.writes
        w.writer[value], w.forks_before[value] = proc, (self.forks if proc == 0 else 0)
        w.words[value] = f"step {step.number} {step.label}"
        w.last[(proc, addr, cell)] = value
        return f"{value:#x}ULL"

    def _emptied(self, proc: int, addr: int) -> None:
        """``addr`` keeps its VMA but has no PTE now: the owner's next access faults zeros in."""
        for c in range(self.cells):
            self.writes.last[(proc, addr, c)] = 0
        self.untouched.add(addr)
        self.wp_asked.discard((proc, addr))

    def _step(self, step: Step) -> list[str]:
        op, p, kind = step.op, step.proc, step.op.kind
        fields: dict[str, Any] = {"s": step.number, "p": p, "a": op.addr, "b": op.target, "c": op.cell, "h": 0, "v": 0,
                                  "w": op.child, "t": self.tokens.setdefault(op.token, len(self.tokens))
                                  if op.token else 0}
        if op.holder:
            if kind in ("pin_rw", "iouring_register"):
                self.holders[op.holder] = (len(self.holders), p, op.addr, op.cell)
                self.held.add(op.holder)
            number, _, addr, cell = self.holders[op.holder]
            fields.update(h=number, a=addr, c=cell)
        before: list[str] = []
        after: list[str] = []
        if kind == "fork":
            self.forks += 1
            for (proc, a, c), value in list(self.writes.last.items()):
                if proc == 0:
                    self.writes.last[(self.forks, a, c)] = value
        if kind == "store":
            if self.prop == "no_spurious_copy":
                shared = any(a == op.addr for a in self.pipe_of.values()) or \
                    any(self.holders[n][2] == op.addr for n in self.held) or \
                    any(child not in self.waited for child in range(1, self.forks + 1))
                if not shared and op.addr not in self.untouched:  # (a first-touch or zero-page fault allocates)
                    before.append(f"frame_before = frame_of({op.addr}); "
                                  f"count_before = frame_before ? mapcount_of(frame_before) : 0;")
                    slot = self._slot(step, f"a write fault of {_who(p)} keeps a page only it maps")
                    judge = "judge_no_copy_of_folio" if self.cached_folio and op.addr < self.thp else "judge_no_copy"
                    after.append(f"{judge}({slot}, {op.addr}, frame_before, count_before);")
            if self.prop == "wrprotect_effective" and (p, op.addr) in self.wp_asked:
                slot = self._slot(step, "the store after clear_refs faulted (left the page soft-dirty)")
                after.append(f"judge_faulted({slot}, {op.addr});")
            self.wp_asked.discard((p, op.addr))
            if p == 0:
                self.untouched.discard(op.addr)
            fields["v"] = self._wrote(step, p, op.addr, op.cell)
        elif kind == "dma_write":
            fields["v"] = self._wrote(step, p, fields["a"], fields["c"])
        if kind in ("store", "dma_write") and self.prop == "private_write_stays_private" \
                and self.maps.get(fields["a"]) == "private":
            slot = self._slot(step, f"the file does not hold {_who(p)}'s write through its private a{fields['a']}")
            after.append(f"judge_file_untouched({slot}, {fields['c']}, {fields['v']});")
        elif kind == "load":
            after += self._observation(step, p, op.addr, op.cell)
        elif kind == "dma_read":
            after += self._observation(step, p, fields["a"], fields["c"])
        elif kind == "vmsplice":
            self.pipe_of[p] = op.addr
        elif kind == "pipe_read":
            after += self._observation(step, p, self.pipe_of.pop(p, 0), 0)
        elif kind == "put":
            self.held.discard(op.holder)
        elif kind == "wait":
            self.waited.add(op.child)
        elif kind in ("munmap", "mprotect_rw", "pageout", "munmap_thp", "mprotect_thp_rw", "pageout_thp",
                      "pageout_thp_cached"):
            self.cached_folio = self.cached_folio or kind == "pageout_thp_cached"
            whole = kind.endswith("_thp") or "_thp_" in kind  # (the THP's whole range)
            for a in (range(self.thp) if whole else [op.addr]):
                self.wp_asked.discard((p, a))
                if kind.startswith("munmap"):
                    for c in range(self.cells):
                        self.writes.last.pop((p, a, c), None)
        elif kind == "force_write":  # a write through /proc/self/mem, the owner's last write there
            self.wp_asked.discard((p, op.addr))
            if p == 0:
                self.untouched.discard(op.addr)
            fields["v"] = self._wrote(step, p, op.addr, op.cell)
            if self.prop == "private_write_stays_private" and self.maps.get(op.addr) == "private":
                slot = self._slot(step, f"the file does not hold {_who(p)}'s forced write into its private "
                                        f"a{op.addr}")
                after.append(f"judge_file_untouched({slot}, {op.cell}, {fields['v']});")
        elif kind == "dontneed":
            self._emptied(p, op.addr)
        elif kind in ("mremap", "uffd_move") and _mapped_after(step, p, op.target):  # the model moved the page
            for c in range(self.cells):
                self.writes.last[(p, op.target, c)] = self.writes.last.pop((p, op.addr, c), INITIAL_VALUE)
            self.untouched.discard(op.target)
            self.wp_asked.discard((p, op.addr))
            if OPERATIONS[kind].unpopulates:  # UFFDIO_MOVE leaves aN in its VMA; mremap unmaps it
                self._emptied(p, op.addr)
        elif kind == "clear_refs" and self.config.soft_dirty:  # without soft-dirty it asks for nothing
            self.wp_asked |= {(p, a) for a in range(self.addresses)}
        elif kind == "exit":
            return [f"give_turn_to_next({step.number});", "_exit(0);"]
        fields["k"] = self.forks
        if kind in ("pin_rw", "iouring_register") and self.prop in _REFUSALS:
            # (a long-term writable pin through io_uring either way: the program goes on when it is refused)
            must_refuse = self.maps.get(op.addr) == "shared" and self.file == "disk"
            self.holders[op.holder] = (fields["h"], p, op.addr, op.cell)
            slot = self._slot(step, f"the long-term writable pin of {_who(p)}'s a{op.addr} is "
                                    + ("refused (a shared mapping of a file that needs dirty tracking)"
                                       if must_refuse else "taken (the kernel must allow it)"))
            return [f"if (!do_register({step.number}, {fields['h']}, {op.addr})) return;",
                    f"judge_registered({slot}, {fields['h']}, {int(must_refuse)});"]
        snippet = SNIPPETS[kind] if kind != "pageout" or self.config.swap else NO_SWAP_PAGEOUT
        statement = snippet.format(**fields)
        lines = before + [f"if (!{statement}) return;"] + after
        if self.prop == "pin_coherent":
            if kind in ("pin_rw", "iouring_register"):
                lines.append(f"pinned_frame[{fields['h']}] = frame_of({fields['a']});")
            for name in sorted(self.held):
                number, owner, addr, _ = self.holders[name]
                if owner == p:
                    slot = self._slot(step, f"{name} and {_who(p)}'s a{addr} reach the same page")
                    lines.append(f"judge_pin({slot}, {number}, {addr});")
        return lines


# -- file mappings: only the programs of a world with a file carry these helpers ------------------------------

def _file_helpers(plan: _Plan) -> str:
    """The file of the world (a memfd, or an unlinked file in the current directory, which must be on a file
    system that tracks dirty pages), mapped at each address the world maps it, in place of the anonymous page
    ``setup`` mapped there; and io_uring's registration that goes on when the kernel refuses it."""
    kinds = ", ".join("2" if plan.maps.get(a) == "shared" else "1" if a in plan.maps else "0"
                      for a in range(plan.addresses))
    return (f"#define FILE_IS_SHMEM {1 if plan.file in ('shmem', 'hugetlbfs') else 0} /* a memfd */\n"
            f"#define FILE_IS_HUGETLBFS {1 if plan.file == 'hugetlbfs' else 0} /* one of MFD_HUGETLB */\n"
            f"static const int file_mapped[NADDR] = {{ {kinds} }}; /* 0 anonymous, 1 MAP_PRIVATE, 2 MAP_SHARED */\n"
            + _FILE_HELPERS)


_FILE_HELPERS = r"""#include <sys/vfs.h>

static int registered[NHOLD]; /* 1: the registration went through, 0: the kernel refused it */
static int file_fd = -1;      /* the world's file */

/* one page of the world's file, mapped at every address the world maps it (untouched until the first step) */
HELPER int map_file(void)
{
	char name[] = "./modelcheck_file_XXXXXX";
	struct statfs fs;
	int fd, p;

	fd = FILE_IS_SHMEM ? memfd_create("modelcheck", FILE_IS_HUGETLBFS ? MFD_HUGETLB : 0) : mkstemp(name);
	if (fd < 0) {
		stop(0, FILE_IS_SHMEM ? "memfd_create" : "mkstemp in the current directory");
		return 0;
	}
	if (!FILE_IS_SHMEM) {
		unlink(name);
		/* the world's file is on a file system that tracks dirty pages: ext4, xfs, btrfs */
		if (fstatfs(fd, &fs) || (fs.f_type != 0xEF53 && fs.f_type != 0x58465342 && fs.f_type != 0x9123683E)) {
			stop(0, "skip: the current directory is not on ext4, xfs or btrfs (a file that needs dirty tracking)");
			return 0;
		}
	}
	file_fd = fd;
	if (ftruncate(fd, map_size) || fallocate(fd, 0, 0, map_size)) {
		stop(0, FILE_IS_HUGETLBFS ? "ftruncate or fallocate of the world's hugetlbfs file (are huge pages "
					    "reserved: vm.nr_hugepages?)" : "ftruncate or fallocate of the world's file");
		return 0;
	}
	for (p = 0; p < NADDR; p++) {
		if (!file_mapped[p])
			continue;
		munmap(area[p], map_size);
		area[p] = mmap(NULL, map_size, PROT_READ | PROT_WRITE,
			       file_mapped[p] == 2 ? MAP_SHARED : MAP_PRIVATE, fd, 0);
		if (area[p] == MAP_FAILED) {
			stop(0, "cannot map the world's file");
			return 0;
		}
	}
	return 1;
}

/* io_uring_register_buffers: FOLL_PIN|FOLL_WRITE|FOLL_LONGTERM; a refusal (EFAULT from GUP, EOPNOTSUPP or ENOSPC
 * from an io_uring that refuses file-backed memory itself) is an answer, not a failure of the run */
HELPER int do_register(int step, int holder, int addr)
{
	struct iovec iov = { .iov_base = area[addr], .iov_len = page_size };

	if (!ring_open(&rings[holder]) || pipe(device_pipe[holder])) {
		stop(step, "io_uring_setup");
		return 0;
	}
	if (syscall(__NR_io_uring_register, rings[holder].fd, IORING_REGISTER_BUFFERS, &iov, 1) < 0) {
		if (errno != EFAULT && errno != EOPNOTSUPP && errno != ENOSPC) {
			stop(step, "IORING_REGISTER_BUFFERS");
			return 0;
		}
		registered[holder] = 0;
		pinned_at[holder] = NULL;
		return 1;
	}
	registered[holder] = 1;
	pinned_at[holder] = area[addr];
	return 1;
}

/* what a read of the file (not of a mapping) gives at a cell: a write through a private mapping must not be there */
HELPER void judge_file_untouched(int slot, int cell, uint64_t value)
{
	uint64_t in_file = 0;

	if (pread(file_fd, &in_file, sizeof(in_file), (off_t)(cell * sizeof(in_file))) != sizeof(in_file)) {
		not_judged(slot, "cannot read the world's file");
		return;
	}
	judged(slot, in_file != value, in_file == value ? "the file holds the private write"
							: "the file keeps its contents");
}

HELPER void judge_registered(int slot, int holder, int must_refuse)
{
	judged(slot, registered[holder] != must_refuse,
	       registered[holder] ? "the kernel took the long-term writable pin" : "the kernel refused it");
}
"""


# -- the program -------------------------------------------------------------------------------------------------

def c_program(record: Mapping[str, Any], invert: bool = False) -> str:
    """The C reproducer of one trace record (an ``Unreproducible`` for a trace that is no concrete schedule).
    ``invert`` turns every judgement around: a negative control, which must report ``violated`` where the
    kernel holds, so that the checks are seen to be able to fail."""
    steps, unforceable = _steps(record)
    scenario = str(record.get("spec_id") or "trace")
    header = _header(record)
    config = _kernel_config(record)
    if not config.swap_pte_exclusive and config.swap and any(s.op.kind == "pageout" for s in steps):
        unforceable.append(NO_SWAP_EXCLUSIVE_BIT)
    if unforceable:
        return header + _unsupported_main(scenario, "; ".join(unforceable))
    file, maps = _file_mappings(record)
    plan = _Plan(steps, str(record["property"]), config, _fresh(record) | frozenset(maps), file, maps, *_thp(record),
                 hugetlb=bool((record.get("initial_state") or {}).get("hugetlb")))
    return header + _program(scenario, plan, invert)


def _kernel_config(record: Mapping[str, Any]) -> KernelConfig:
    """The kernel configuration the trace's world had (the full kernel for traces that name none)."""
    settings = record.get("world_settings") or {}
    try:
        return KernelConfig.from_json(settings.get("kernel_config") or {})
    except (ValueError, TypeError, AttributeError) as err:
        raise Unreproducible(f"the trace's kernel configuration: {err}") from None


def _file_mappings(record: Mapping[str, Any]) -> tuple[str, dict[int, str]]:
    """The file the trace's world maps (a kind of FILE_KINDS) and how each address maps it (``world_settings``'
    ``file`` and ``maps``); ("", {}) for a world of anonymous memory."""
    settings = record.get("world_settings") or {}
    maps = settings.get("maps") if isinstance(settings, Mapping) else None
    if not maps:
        return "", {}
    file = settings.get("file")
    if file not in FILE_KINDS or not isinstance(maps, Mapping) or not all(
            isinstance(a, str) and re.fullmatch(r"a[0-9]+", a) and how in ("private", "shared")
            for a, how in maps.items()):
        raise Unreproducible(f"the trace's file mappings must be a file kind ({', '.join(FILE_KINDS)}) and a map of "
                             f"addresses to 'private' or 'shared', not {file!r} and {maps!r}")
    return file, {int(a[1:]): how for a, how in maps.items()}


def _thp(record: Mapping[str, Any]) -> tuple[int, bool]:
    """The pages of the trace's THP (0 without one), and whether it starts PTE-mapped (the parent's PMD not
    set in the initial state, its range not untouched)."""
    initial = record.get("initial_state") or {}
    pages = initial.get("thp") or 0
    if not isinstance(pages, int) or isinstance(pages, bool) or not 0 <= pages <= 8:
        raise Unreproducible(f"the trace's THP must be a number of pages, not {pages!r}")
    parent = (initial.get("processes") or {}).get("parent") or {}
    return pages, bool(pages) and not parent.get("pmd") and 0 not in _fresh(record)


def _fresh(record: Mapping[str, Any]) -> frozenset[int]:
    """The addresses the trace's world starts untouched (``world_settings``' ``fresh``: a0, a1, ...)."""
    settings = record.get("world_settings") or {}
    fresh = settings.get("fresh") if isinstance(settings, Mapping) else None
    if not fresh:
        return frozenset()
    if not isinstance(fresh, list) or not all(isinstance(a, str) and re.fullmatch(r"a[0-9]+", a) for a in fresh):
        raise Unreproducible(f"the trace's fresh addresses must be a list of addresses (a0, a1, ...), not {fresh!r}")
    return frozenset(int(a[1:]) for a in fresh)


def _comment(text: str) -> str:
    return " ".join(text.replace("*/", "* /").split())


def _header(record: Mapping[str, Any]) -> str:
    lines = [f"/* {_comment(str(record.get('spec_id')))}: {_comment(str(record.get('title', '')))}",
             f" * A reproducer generated by modelcheck from a counterexample found under the policy "
             f"{_comment(str(record.get('policy')))}",
             f" * (property {_comment(str(record.get('property')))}), its steps in this order:"]
    lines += [f" *   {n}. {_comment(str(s['label']))}" for n, s in enumerate(record.get("steps", []), 1)]
    lines += [" * Build: gcc -Wall -o repro repro.c; run as root (page frame numbers need it).",
              " * Prints TAP (kselftest style), then: RESULT <scenario> holds|violated|unsupported <detail>",
              " */", ""]
    return "\n".join(lines) + "\n"


def _unsupported_main(scenario: str, why: str) -> str:
    return "\n".join([
        "#include <stdio.h>", "",
        "int main(void)", "{",
        '\tprintf("TAP version 13\\n");',
        f"\tprintf(\"1..0 # SKIP %s\\n\", {_c_string(why)});",
        f"\tprintf(\"RESULT %s unsupported %s\\n\", {_c_string(scenario)}, {_c_string(why)});",
        "\treturn 4; /* KSFT_SKIP */", "}", ""])


def _program(scenario: str, plan: _Plan, invert: bool) -> str:
    steps = plan.steps
    processes = max([s.proc for s in steps] + [plan.forks]) + 1
    kinds = {s.op.kind for s in steps}
    prop = plan.prop
    needs = []
    if kinds & {"pin_rw", "iouring_register", "dma_read", "dma_write", "put"}:
        needs.append("need_io_uring()")
    if plan.maps:
        needs.append("map_file()")
    config = plan.config
    # the running kernel must be built as the trace's world was: clear_refs and MADV_PAGEOUT do nothing without
    # soft-dirty tracking and swap, and the model's steps are a kernel's with or without them
    if kinds & {"pageout", "pageout_thp", "pageout_thp_cached"}:
        needs.append("need_swap()" if config.swap else "need_no_swap()")
    if "clear_refs" in kinds:
        needs.append("need_soft_dirty()" if config.soft_dirty else "need_no_soft_dirty()")
    if prop in ("pin_coherent", "no_spurious_copy"):
        needs.append("need_frames()")
    out = [f"#define NPROC {processes}", f"#define NADDR {plan.addresses}", f"#define NCHECK {len(plan.titles)}",
           f"#define NHOLD {max(len(plan.holders), 1)}", f"#define NTOKEN {len(plan.tokens)}",
           f"#define INVERT {1 if invert else 0}",
           f"#define THP {plan.thp} /* the THP's pages at a0 .. (0: none), and whether it starts PTE-mapped */",
           f"#define THP_PTE {1 if plan.thp_pte else 0}",
           f"#define HUGETLB {1 if plan.hugetlb else 0} /* every address a private anonymous hugetlb page */", "",
           "/* the addresses the scenario starts untouched (fresh): mapped, never written */",
           "static const int untouched[NADDR] = { "
           + ", ".join("1" if a in plan.fresh else "0" for a in range(plan.addresses)) + " };", "", _PRELUDE,
           f"static const char scenario[] = {_c_string(scenario)};",
           f"static const char property[] = {_c_string(prop)};",
           "static const char *const check_title[] = {"]
    out += [f"\t{_c_string(title)}," for title in plan.titles] + ['\t""', "};"]
    out.append("static const struct named_value named[] = {")
    out += [f"\t{{ {value:#x}ULL, {_c_string(words)} }}," for value, words in sorted(plan.writes.words.items())]
    out += ["};", "#define NNAMED (sizeof(named) / sizeof(named[0]))", "", _REPORT]
    if plan.maps or "iouring_register" in kinds:
        out.append(_file_helpers(plan))
    out += [f"static void proc{proc}(void);" for proc in range(processes)]
    out.append("")
    # by the trace's step numbers, which skip the steps a system call or fault took inside the one it finishes
    following = {s.number: nxt.proc for s, nxt in zip(steps, steps[1:])}
    next_proc = [following.get(n, -1) for n in range(max((s.number for s in steps), default=0) + 1)]
    out += ["/* whose turn follows each step (-1: none) */",
            "static const int next_proc[] = { " + ", ".join(str(p) for p in next_proc) + " };", "",
            "static void give_turn_to_next(int step)", "{",
            "\tif (next_proc[step] >= 0 && next_proc[step] != current_proc)",
            "\t\tgive_turn(next_proc[step]);", "}", ""]
    for proc in range(processes):
        out += [f"static void proc{proc}(void)", "{",
                "\tuint64_t seen __attribute__((unused)) = 0;",
                "\tuint64_t frame_before __attribute__((unused)) = 0;",
                "\tuint64_t count_before __attribute__((unused)) = 0;", "",
                f"\tcurrent_proc = {proc};"]
        for n, s in enumerate(steps):
            if s.proc != proc:
                continue
            out.append(f"\t/* step {s.number}: {_comment(s.label)} */")
            if n and steps[n - 1].proc != proc:
                out.append(f"\tif (!wait_turn({proc}, {s.number}))\n\t\treturn;")
            out.append(f"\tsay_step({s.number}, {_c_string(s.label)});")
            out += ["\t" + line for line in plan.code[s.number]]
            out.append(f"\tgive_turn_to_next({s.number});")
        out += ["}", ""]
    out += ["int main(void)", "{", "\tif (!setup(NPROC))", "\t\treturn report();"]
    for need in needs:
        out += [f"\tif (!{need})", "\t\treturn report();"]
    out += ["\tif (!sigsetjmp(to_report, 1))", "\t\tproc0();", "\treturn report();", "}", ""]
    return "\n".join(out)


# the helpers every program shares: the board the processes report on, the turn, pagemap, io_uring, the steps
_PRELUDE = r"""#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/io_uring.h>
#include <linux/userfaultfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>

#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT 21
#endif

#define HELPER static __attribute__((unused)) /* each program uses some of the helpers */
#define STEP_TIMEOUT_MS 10000
#define INITIAL_VALUE 0x00C0FFEE00000000ULL

enum { NOT_RUN, PASSED, FAILED, SKIPPED };

struct named_value {
	uint64_t value;
	const char *words;
};

struct slot {
	int state;
	char text[256];
};

/* shared by every process of the run (MAP_SHARED: apart from the scenario's private pages) */
struct board {
	int stopped; /* a step could not be done or a feature is missing: the run is unsupported */
	char why[512];
	struct slot checks[NCHECK > 0 ? NCHECK : 1];
};

static struct board *board;
static long page_size;
static size_t map_size;          /* what one address maps: a page, or a hugetlb page (HUGETLB) */
static char *area[NADDR];         /* address aN: one page of private anonymous memory */
static int asked[NADDR];         /* a clear_refs write-protected aN and no store has faulted since */
#if THP > 0
static char *thp_base;           /* the THP: a PMD-aligned, PMD-sized MADV_HUGEPAGE range; aN (N < THP) in it */
static size_t thp_size;
#endif
static int map_thp(void);
static size_t huge_page_size(void);
static int turn[NPROC][2];       /* process p runs its next step when a token arrives on turn[p] */
static int own_pipe[2] = { -1, -1 };
static pid_t children[NPROC];
static int reaped[NPROC];          /* a wait step has reaped the child already */
static int nchildren;
static int token_pipe[NTOKEN + 1][2]; /* a token is signalled once its pipe holds a byte */
static int current_proc;
static volatile sig_atomic_t current_step;
static sigjmp_buf to_report;      /* where the parent goes when one of its steps faults */

HELPER void stop(int step, const char *what)
{
	int err = errno;

	if (__sync_bool_compare_and_swap(&board->stopped, 0, 1)) {
		if (step > 0)
			snprintf(board->why, sizeof(board->why), "step %d: %s%s%s", step, what, err ? ": " : "",
				 err ? strerror(err) : "");
		else
			snprintf(board->why, sizeof(board->why), "%s", what);
	}
}

HELPER void say_step(int step, const char *label)
{
	current_step = step;
	dprintf(1, "# step %d: %s\n", step, label);
}

/* a step that faults (a store the kernel refused) ends the run as unsupported, not as a verdict */
HELPER void on_fault(int signal)
{
	static const char why[] = "a step was killed by SIGSEGV or SIGBUS (the kernel refused the access)";

	if (__sync_bool_compare_and_swap(&board->stopped, 0, 1))
		memcpy(board->why, why, sizeof(why));
	(void)signal;
	if (current_proc == 0)
		siglongjmp(to_report, 1);
	_exit(1);
}

HELPER int wait_turn(int proc, int step)
{
	struct pollfd pfd = { .fd = turn[proc][0], .events = POLLIN };
	int waited;
	char token;

	for (waited = 0; waited < STEP_TIMEOUT_MS; waited += 50) {
		if (board->stopped)
			return 0;
		if (poll(&pfd, 1, 50) == 1 && read(turn[proc][0], &token, 1) == 1)
			return 1;
	}
	errno = 0;
	stop(step, "timed out waiting for its turn");
	return 0;
}

HELPER void give_turn(int proc)
{
	char token = 't';

	if (write(turn[proc][1], &token, 1) != 1)
		stop(0, "cannot pass the turn");
}

HELPER int setup(int nproc)
{
	int p;

	page_size = sysconf(_SC_PAGESIZE);
	signal(SIGSEGV, on_fault);
	signal(SIGBUS, on_fault);
	board = mmap(NULL, sizeof(*board), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (board == MAP_FAILED) {
		printf("Bail out! cannot map the result board: %s\n", strerror(errno));
		exit(1);
	}
	for (p = 0; p < nproc; p++)
		if (pipe(turn[p])) {
			stop(0, "cannot make the pipes that order the steps");
			return 0;
		}
#if NTOKEN > 0
	for (p = 0; p < NTOKEN; p++)
		if (pipe(token_pipe[p])) {
			stop(0, "cannot make the pipes of the tokens");
			return 0;
		}
#endif
	map_size = page_size;
	if (HUGETLB && !(map_size = huge_page_size())) {
		errno = 0;
		stop(0, "the kernel has no hugetlb pages (Hugepagesize in /proc/meminfo)");
		return 0;
	}
	if (!map_thp())
		return 0;
	for (p = 0; p < NADDR; p++) {
		uint64_t *cell;

		if (p >= THP) {
			area[p] = mmap(NULL, map_size, PROT_READ | PROT_WRITE,
				       MAP_PRIVATE | MAP_ANONYMOUS | (HUGETLB ? MAP_HUGETLB : 0), -1, 0);
			if (area[p] == MAP_FAILED) {
				stop(0, HUGETLB ? "cannot map a hugetlb page (are huge pages reserved: vm.nr_hugepages?)"
						: "cannot map the scenario's pages");
				return 0;
			}
			if (!HUGETLB)
				madvise(area[p], page_size, MADV_NOHUGEPAGE);
		}
		if (untouched[p])
			continue; /* a fresh address: its first access faults it in (zeros) */
		/* the parent has written every other page before the first step */
		for (cell = (uint64_t *)area[p]; (char *)cell < area[p] + page_size; cell++)
			*cell = INITIAL_VALUE;
	}
#if THP > 0 && THP_PTE
	/* PTE-map the THP as cow.c does: one of its pages R/O for a moment splits the PMD */
	if (mprotect(thp_base + page_size, page_size, PROT_READ) ||
	    mprotect(thp_base + page_size, page_size, PROT_READ | PROT_WRITE)) {
		stop(0, "mprotect() of a page of the THP");
		return 0;
	}
#endif
	return 1;
}

/* -- what the kernel shows of a mapping: /proc/self/pagemap, /proc/kpagecount -- */

#define PM_PRESENT (1ULL << 63)
#define PM_SWAPPED (1ULL << 62)
#define PM_SOFT_DIRTY (1ULL << 55)
#define PM_FRAME ((1ULL << 55) - 1)

HELPER uint64_t pagemap_of(const void *address)
{
	uint64_t entry = 0;
	int fd = open("/proc/self/pagemap", O_RDONLY);

	if (fd < 0)
		return 0;
	if (pread(fd, &entry, sizeof(entry), (off_t)((uintptr_t)address / page_size * sizeof(entry))) !=
	    sizeof(entry))
		entry = 0;
	close(fd);
	return entry;
}

HELPER uint64_t frame_of(int addr)
{
	uint64_t entry = pagemap_of(area[addr]);

	return entry & PM_PRESENT ? entry & PM_FRAME : 0;
}

HELPER int soft_dirty_of(int addr)
{
	return !!(pagemap_of(area[addr]) & PM_SOFT_DIRTY);
}

/* a page frame's word in /proc/kpagecount or /proc/kpageflags (0 when it cannot be read) */
HELPER uint64_t kpage_word(const char *file, uint64_t frame)
{
	uint64_t word = 0;
	int fd = open(file, O_RDONLY);

	if (fd < 0)
		return 0;
	if (pread(fd, &word, sizeof(word), (off_t)(frame * sizeof(word))) != sizeof(word))
		word = 0;
	close(fd);
	return word;
}

HELPER uint64_t mapcount_of(uint64_t frame)
{
	return kpage_word("/proc/kpagecount", frame);
}

#define KPF_WRITEBACK (1ULL << 8)
#define KPF_COMPOUND (3ULL << 15) /* KPF_COMPOUND_HEAD, KPF_COMPOUND_TAIL: a page of a large folio */

/* -- features the kernel may lack: each a skip with its reason -- */

HELPER int need_frames(void)
{
	volatile char probe = 1; /* a page surely present (the stack's): a0 may be untouched (fresh, or a file's) */

	errno = 0;
	if (geteuid() != 0 || (pagemap_of((const void *)&probe) & PM_FRAME) == 0) {
		stop(0, "skip: page frame numbers in /proc/self/pagemap need root (CAP_SYS_ADMIN)");
		return 0;
	}
	return 1;
}

HELPER int swap_space(void)
{
	char line[256];
	int lines = 0;
	FILE *swaps = fopen("/proc/swaps", "r");

	while (swaps && fgets(line, sizeof(line), swaps))
		lines++;
	if (swaps)
		fclose(swaps);
	errno = 0;
	return lines >= 2;
}

HELPER int need_swap(void)
{
	if (!swap_space()) {
		stop(0, "skip: no swap space, so MADV_PAGEOUT cannot reclaim an anonymous page");
		return 0;
	}
	return 1;
}

HELPER int need_no_swap(void)
{
	if (swap_space()) {
		stop(0, "skip: the kernel has swap space, and the trace is of a kernel without swap");
		return 0;
	}
	return 1;
}

HELPER int soft_dirty_tracked(void)
{
	char *probe = mmap(NULL, page_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint64_t entry;

	errno = 0;
	if (probe == MAP_FAILED)
		return -1;
	*(volatile char *)probe = 1;
	entry = pagemap_of(probe);
	munmap(probe, page_size);
	return (entry & PM_SOFT_DIRTY) != 0;
}

HELPER int need_no_soft_dirty(void)
{
	int tracked = soft_dirty_tracked();

	if (tracked != 0) {
		stop(0, tracked < 0 ? "skip: cannot map a page to probe soft-dirty tracking"
				    : "skip: the kernel tracks soft-dirty (CONFIG_MEM_SOFT_DIRTY), and the trace is of a "
				      "kernel without it");
		return 0;
	}
	return 1;
}

HELPER int need_soft_dirty(void)
{
	int tracked = soft_dirty_tracked();

	if (tracked != 1) {
		stop(0, tracked < 0 ? "skip: cannot map a page to probe soft-dirty tracking"
				    : "skip: no soft-dirty tracking (CONFIG_MEM_SOFT_DIRTY), so clear_refs write-protects "
				      "nothing");
		return 0;
	}
	return 1;
}

/* -- io_uring through its raw system calls: registered buffers are FOLL_PIN|FOLL_WRITE|FOLL_LONGTERM pins -- */

struct ring {
	int fd;
	unsigned *sq_tail, *sq_mask, *sq_array, *cq_head, *cq_tail, *cq_mask;
	struct io_uring_sqe *sqes;
	struct io_uring_cqe *cqes;
};

static struct ring rings[NHOLD];
static int device_pipe[NHOLD][2];
static char *pinned_at[NHOLD];      /* the registered buffer's address */
static uint64_t pinned_frame[NHOLD] __attribute__((unused));

HELPER int ring_open(struct ring *r)
{
	struct io_uring_params params;
	size_t sq_len, cq_len;
	char *sq, *cq;

	memset(&params, 0, sizeof(params));
	r->fd = syscall(__NR_io_uring_setup, 4, &params);
	if (r->fd < 0)
		return 0;
	sq_len = params.sq_off.array + params.sq_entries * sizeof(unsigned);
	cq_len = params.cq_off.cqes + params.cq_entries * sizeof(struct io_uring_cqe);
	if (params.features & IORING_FEAT_SINGLE_MMAP)
		sq_len = cq_len = sq_len > cq_len ? sq_len : cq_len;
	sq = mmap(NULL, sq_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, r->fd, IORING_OFF_SQ_RING);
	if (sq == MAP_FAILED)
		return 0;
	cq = sq;
	if (!(params.features & IORING_FEAT_SINGLE_MMAP)) {
		cq = mmap(NULL, cq_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, r->fd, IORING_OFF_CQ_RING);
		if (cq == MAP_FAILED)
			return 0;
	}
	r->sqes = mmap(NULL, params.sq_entries * sizeof(struct io_uring_sqe), PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_POPULATE, r->fd, IORING_OFF_SQES);
	if (r->sqes == MAP_FAILED)
		return 0;
	r->sq_tail = (unsigned *)(sq + params.sq_off.tail);
	r->sq_mask = (unsigned *)(sq + params.sq_off.ring_mask);
	r->sq_array = (unsigned *)(sq + params.sq_off.array);
	r->cq_head = (unsigned *)(cq + params.cq_off.head);
	r->cq_tail = (unsigned *)(cq + params.cq_off.tail);
	r->cq_mask = (unsigned *)(cq + params.cq_off.ring_mask);
	r->cqes = (struct io_uring_cqe *)(cq + params.cq_off.cqes);
	return 1;
}

/* one request on the registered buffer 0, waited for: its result (a byte count, or -errno) */
HELPER int ring_do(struct ring *r, unsigned char opcode, int fd, char *address, unsigned len)
{
	unsigned tail = *r->sq_tail, index = tail & *r->sq_mask, head;
	struct io_uring_sqe *sqe = &r->sqes[index];
	int res;

	memset(sqe, 0, sizeof(*sqe));
	sqe->opcode = opcode;
	sqe->fd = fd;
	sqe->addr = (uintptr_t)address;
	sqe->len = len;
	sqe->off = (uint64_t)-1; /* a pipe has no position */
	sqe->buf_index = 0;
	r->sq_array[index] = index;
	__atomic_store_n(r->sq_tail, tail + 1, __ATOMIC_RELEASE);
	if (syscall(__NR_io_uring_enter, r->fd, 1, 1, IORING_ENTER_GETEVENTS, NULL, 0) < 0)
		return -errno;
	head = __atomic_load_n(r->cq_head, __ATOMIC_ACQUIRE);
	if (head == __atomic_load_n(r->cq_tail, __ATOMIC_ACQUIRE))
		return -EAGAIN;
	res = r->cqes[head & *r->cq_mask].res;
	__atomic_store_n(r->cq_head, head + 1, __ATOMIC_RELEASE);
	return res;
}

HELPER int need_io_uring(void)
{
	struct ring probe;

	errno = 0;
	if (!ring_open(&probe)) {
		stop(0, "skip: io_uring is not available (io_uring_setup failed)");
		return 0;
	}
	close(probe.fd);
	return 1;
}

/* -- the steps: each returns 1, or says why it could not be done and returns 0 -- */

HELPER int do_fork(int step, int child, void (*body)(void))
{
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		stop(step, "fork");
		return 0;
	}
	if (pid == 0) {
		if (own_pipe[0] >= 0) { /* the child's pipe is its own */
			close(own_pipe[0]);
			close(own_pipe[1]);
			own_pipe[0] = own_pipe[1] = -1;
		}
		nchildren = 0;
		(void)child;
		body();
		_exit(0);
	}
	children[nchildren++] = pid;
	return 1;
}

/* wait(): the child has exited (its mm is gone) once waitpid() returns */
HELPER int do_wait(int step, int child)
{
	int status;

	if (child < 1 || child > nchildren || waitpid(children[child - 1], &status, 0) != children[child - 1]) {
		stop(step, "waitpid");
		return 0;
	}
	reaped[child - 1] = 1;
	if (!WIFEXITED(status)) {
		errno = 0;
		stop(step, "the child did not exit normally");
		return 0;
	}
	return 1;
}

/* a token: one byte written into its pipe and left there, so that every thread that awaits it sees it */
HELPER int do_signal(int step, int token)
{
	char byte = 's';

	if (write(token_pipe[token][1], &byte, 1) != 1) {
		stop(step, "writing the token's pipe");
		return 0;
	}
	return 1;
}

HELPER int do_await(int step, int token)
{
	struct pollfd pfd = { .fd = token_pipe[token][0], .events = POLLIN };

	if (poll(&pfd, 1, STEP_TIMEOUT_MS) != 1) {
		errno = 0;
		stop(step, "timed out awaiting the token");
		return 0;
	}
	return 1;
}

HELPER int do_store(int step, int addr, int cell, uint64_t value)
{
	(void)step;
	((volatile uint64_t *)area[addr])[cell] = value;
	return 1;
}

HELPER int do_load(int step, int addr, int cell, uint64_t *seen)
{
	(void)step;
	*seen = ((volatile uint64_t *)area[addr])[cell];
	return 1;
}

#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25
#endif

/* The scenario's THP: a PMD-sized THP (the model's THP stands for one), its N pages spread over it, populated
 * by a touch of its first page (a read maps the huge zero page, for a range that starts untouched), as cow.c
 * does; a kernel that gives no THP there makes the run unsupported. */
static int map_thp(void)
{
#if THP > 0
	char *raw;
	FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/hpage_pmd_size", "r");
	unsigned long size = 0;
	int p;

	if (!f || fscanf(f, "%lu", &size) != 1 || !size) {
		if (f)
			fclose(f);
		errno = 0;
		stop(0, "the kernel has no PMD-sized THP (hpage_pmd_size)");
		return 0;
	}
	fclose(f);
	thp_size = size;
	raw = mmap(NULL, 2 * thp_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (raw == MAP_FAILED) {
		stop(0, "cannot map the THP's range");
		return 0;
	}
	thp_base = (char *)(((uintptr_t)raw + thp_size) & ~(thp_size - 1));
	if (madvise(thp_base, thp_size, MADV_HUGEPAGE)) {
		stop(0, "MADV_HUGEPAGE");
		return 0;
	}
	for (p = 0; p < THP; p++)
		area[p] = thp_base + (size_t)p * (thp_size / THP);
	if (untouched[0])
		(void)*(volatile char *)thp_base;
	else
		*(volatile char *)thp_base = 1;
	if (!(pagemap_of(thp_base + thp_size - page_size) & PM_PRESENT)) {
		errno = 0;
		stop(0, "the kernel did not populate a THP (is THP enabled for MADV_HUGEPAGE?)");
		return 0;
	}
#endif
	return 1;
}

/* The default hugetlb page size (Hugepagesize in /proc/meminfo), 0 if the kernel has none. */
static size_t huge_page_size(void)
{
	FILE *f = fopen("/proc/meminfo", "r");
	char line[128];
	unsigned long kb = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Hugepagesize: %lu kB", &kb) == 1)
			break;
	fclose(f);
	return (size_t)kb * 1024;
}

#if THP > 0
HELPER int do_thp_munmap(int step)
{
	if (munmap(thp_base, thp_size)) {
		stop(step, "munmap() of the THP");
		return 0;
	}
	return 1;
}

HELPER int do_thp_mprotect(int step, int prot)
{
	if (mprotect(thp_base, thp_size, prot)) {
		stop(step, "mprotect() of the THP");
		return 0;
	}
	return 1;
}

HELPER int do_thp_madvise(int step, int advice, const char *name)
{
	if (madvise(thp_base, thp_size, advice)) {
		stop(step, name);
		return 0;
	}
	return 1;
}

/* MADV_PAGEOUT where the trace keeps the folio in the swap cache: mincore() of swapped-out anonymous memory
 * says whether the swap cache still holds each page; a swap device that finished the write within the call
 * let reclaim free the folio at once, and the run is not the trace's */
HELPER int do_thp_pageout_cached(int step)
{
	static unsigned char resident[512];
	size_t n, pages = thp_size / page_size;

	if (!do_thp_madvise(step, MADV_PAGEOUT, "MADV_PAGEOUT"))
		return 0;
	if (pages > sizeof(resident) || mincore(thp_base, thp_size, resident)) {
		stop(step, "mincore() of the THP");
		return 0;
	}
	for (n = 0; n < pages; n++)
		if (!(resident[n] & 1)) {
			stop(step, "the kernel wrote the folio out and freed it within MADV_PAGEOUT (the trace keeps it "
				   "whole in the swap cache, its writeback under way)");
			return 0;
		}
	return 1;
}
#endif

HELPER int do_munmap(int step, int addr)
{
	asked[addr] = 0;
	if (munmap(area[addr], map_size)) {
		stop(step, "munmap");
		return 0;
	}
	return 1;
}

HELPER int do_mprotect(int step, int addr, int prot)
{
	if (prot & PROT_WRITE)
		asked[addr] = 0;
	if (mprotect(area[addr], map_size, prot)) {
		stop(step, "mprotect");
		return 0;
	}
	return 1;
}

/* UFFDIO_MOVE of aN's page to aK (the model's uffd_move): aK registered with this process's userfaultfd for
 * the move only, so that a later access there faults as in any VMA. The ioctl's answer (moved, or EBUSY, or no
 * such ioctl before 6.8) is the kernel's; what the process then sees is judged by the steps after it. */
/* mremap(MREMAP_MAYMOVE|MREMAP_FIXED) of aN's page onto aK: aN's place is unmapped after it. A failure (nothing
 * mapped at aN: EFAULT) is the kernel's answer, which the steps after it judge. */
HELPER int do_mremap(int step, int src, int dst)
{
	void *moved = mremap(area[src], map_size, map_size, MREMAP_MAYMOVE | MREMAP_FIXED, area[dst]);

	printf("# step %d: mremap a%d -> a%d: %s\n", step, src, dst, moved == MAP_FAILED ? strerror(errno) : "moved");
	return 1;
}

/* Whether *fd is this process's own: one a child inherited was opened on its parent's mm (/proc/self/mem, a
 * userfaultfd), so it is closed and the child opens its own. */
HELPER int own_fd(int *fd, pid_t *owner)
{
	if (*fd >= 0 && *owner != getpid()) {
		close(*fd);
		*fd = -1;
	}
	return *fd >= 0;
}

/* A FOLL_FORCE write, as ptrace and debuggers make it: through /proc/self/mem, which writes even where the
 * mapping is read-only (a private mapping: the kernel breaks COW for it). */
HELPER int do_force_write(int step, int addr, int cell, uint64_t value)
{
	static int mem = -1;
	static pid_t owner;

	if (!own_fd(&mem, &owner)) {
		mem = open("/proc/self/mem", O_RDWR | O_CLOEXEC);
		if (mem < 0) {
			stop(step, "open /proc/self/mem");
			return 0;
		}
		owner = getpid();
	}
	if (pwrite(mem, &value, sizeof(value), (off_t)(uintptr_t)((uint64_t *)area[addr] + cell)) != sizeof(value)) {
		stop(step, "a write through /proc/self/mem");
		return 0;
	}
	return 1;
}

#ifndef UFFDIO_MOVE /* headers older than 6.8: the ioctl's uABI, ioctl number 5 of userfaultfd's type */
struct uffdio_move {
	uint64_t dst, src, len, mode;
	int64_t move; /* written by the kernel */
};
#define UFFDIO_MOVE _IOWR(UFFDIO, 0x05, struct uffdio_move)
#endif

HELPER int do_uffd_move(int step, int src, int dst)
{
	static int uffd = -1;
	static pid_t owner;
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg = { .range = { (unsigned long)area[dst], page_size },
				       .mode = UFFDIO_REGISTER_MODE_MISSING };
	struct uffdio_move move = { .dst = (unsigned long)area[dst], .src = (unsigned long)area[src],
				    .len = page_size };
	int moved, err;

	if (!own_fd(&uffd, &owner)) {
		uffd = syscall(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK);
		if (uffd < 0 || ioctl(uffd, UFFDIO_API, &api)) {
			stop(step, "userfaultfd");
			return 0;
		}
		owner = getpid();
	}
	if (ioctl(uffd, UFFDIO_REGISTER, &reg)) {
		stop(step, "UFFDIO_REGISTER");
		return 0;
	}
	moved = !ioctl(uffd, UFFDIO_MOVE, &move);
	err = errno;
	ioctl(uffd, UFFDIO_UNREGISTER, &reg.range);
	printf("# step %d: UFFDIO_MOVE a%d -> a%d: %s\n", step, src, dst, moved ? "moved" : strerror(err));
	return 1;
}

HELPER int do_madvise(int step, int addr, int advice, const char *name)
{
	if (madvise(area[addr], map_size, advice)) {
		stop(step, name);
		return 0;
	}
	return 1;
}

HELPER int do_pageout(int step, int addr)
{
	asked[addr] = 0;
	if (!do_madvise(step, addr, MADV_PAGEOUT, "MADV_PAGEOUT"))
		return 0;
	if (!(pagemap_of(area[addr]) & PM_SWAPPED)) {
		errno = 0;
		stop(step, "MADV_PAGEOUT left the page in memory (the kernel chose not to reclaim it)");
		return 0;
	}
	return 1;
}

HELPER int do_pageout_no_swap(int step, int addr)
{
	if (!do_madvise(step, addr, MADV_PAGEOUT, "MADV_PAGEOUT"))
		return 0;
	if (pagemap_of(area[addr]) & PM_SWAPPED) {
		errno = 0;
		stop(step, "MADV_PAGEOUT swapped the page out, and the trace is of a kernel without swap");
		return 0;
	}
	return 1;
}

HELPER int do_clear_refs(int step)
{
	int fd = open("/proc/self/clear_refs", O_WRONLY);
	int addr;

	if (fd < 0 || write(fd, "4", 1) != 1) {
		stop(step, "writing 4 to /proc/self/clear_refs");
		if (fd >= 0)
			close(fd);
		return 0;
	}
	close(fd);
	for (addr = 0; addr < NADDR; addr++) {
		uint64_t entry = pagemap_of(area[addr]);

		asked[addr] = (entry & PM_PRESENT) && !(entry & PM_SOFT_DIRTY);
	}
	return 1;
}

HELPER int do_vmsplice(int step, int proc, int addr)
{
	struct iovec iov = { .iov_base = area[addr], .iov_len = page_size };

	(void)proc;
	if (own_pipe[0] < 0 && pipe(own_pipe)) {
		stop(step, "pipe");
		return 0;
	}
	if (vmsplice(own_pipe[1], &iov, 1, 0) != page_size) {
		stop(step, "vmsplice");
		return 0;
	}
	return 1;
}

HELPER int do_pipe_read(int step, int proc, uint64_t *seen)
{
	char *buffer = malloc(page_size);

	(void)proc;
	if (!buffer || read(own_pipe[0], buffer, page_size) != page_size) {
		stop(step, "reading the pipe");
		free(buffer);
		return 0;
	}
	memcpy(seen, buffer, sizeof(*seen));
	free(buffer);
	return 1;
}

HELPER int do_pin(int step, int holder, int addr)
{
	struct iovec iov = { .iov_base = area[addr], .iov_len = page_size };

	if (!ring_open(&rings[holder]) || pipe(device_pipe[holder])) {
		stop(step, "io_uring_setup");
		return 0;
	}
	if (syscall(__NR_io_uring_register, rings[holder].fd, IORING_REGISTER_BUFFERS, &iov, 1) < 0) {
		stop(step, "IORING_REGISTER_BUFFERS");
		return 0;
	}
	pinned_at[holder] = area[addr];
	return 1;
}

/* the device reads the pinned page: IORING_OP_WRITE_FIXED from the registered buffer into a pipe */
HELPER int do_dma_read(int step, int holder, int cell, uint64_t *seen)
{
	char *buffer = malloc(page_size);
	int res = ring_do(&rings[holder], IORING_OP_WRITE_FIXED, device_pipe[holder][1], pinned_at[holder],
			  page_size);

	if (!buffer || res != page_size || read(device_pipe[holder][0], buffer, page_size) != page_size) {
		errno = res < 0 ? -res : 0;
		stop(step, "IORING_OP_WRITE_FIXED (the device reading the registered buffer)");
		free(buffer);
		return 0;
	}
	memcpy(seen, buffer + cell * sizeof(uint64_t), sizeof(*seen));
	free(buffer);
	return 1;
}

/* the device writes the pinned page: IORING_OP_READ_FIXED from a pipe into the registered buffer */
HELPER int do_dma_write(int step, int holder, int cell, uint64_t value)
{
	int res;

	if (write(device_pipe[holder][1], &value, sizeof(value)) != sizeof(value)) {
		stop(step, "filling the device's pipe");
		return 0;
	}
	res = ring_do(&rings[holder], IORING_OP_READ_FIXED, device_pipe[holder][0],
		      pinned_at[holder] + cell * sizeof(uint64_t), sizeof(value));
	if (res != sizeof(value)) {
		errno = res < 0 ? -res : 0;
		stop(step, "IORING_OP_READ_FIXED (the device writing the registered buffer)");
		return 0;
	}
	return 1;
}

HELPER int do_unpin(int step, int holder)
{
	if (syscall(__NR_io_uring_register, rings[holder].fd, IORING_UNREGISTER_BUFFERS, NULL, 0) < 0) {
		stop(step, "IORING_UNREGISTER_BUFFERS");
		return 0;
	}
	close(rings[holder].fd);
	close(device_pipe[holder][0]);
	close(device_pipe[holder][1]);
	return 1;
}

"""

# the judgements and the report: after the tables of the checks' titles and the values' words
_REPORT = r"""HELPER void value_words(uint64_t value, char *out, size_t len)
{
	size_t n;

	for (n = 0; n < NNAMED; n++)
		if (named[n].value == value) {
			snprintf(out, len, "%s", named[n].words);
			return;
		}
	snprintf(out, len, "%#llx, which no step wrote", (unsigned long long)value);
}

HELPER void judged(int slot, int holds, const char *detail)
{
	struct slot *s = &board->checks[slot];

	if (INVERT) /* the negative control: every judgement turned around */
		holds = !holds;
	s->state = holds ? PASSED : FAILED;
	snprintf(s->text, sizeof(s->text), "%s", detail);
}

HELPER void not_judged(int slot, const char *why)
{
	board->checks[slot].state = SKIPPED;
	snprintf(board->checks[slot].text, sizeof(board->checks[slot].text), "%s", why);
}

HELPER void judge_value(int slot, uint64_t seen, const uint64_t *allowed, int n)
{
	char words[200], detail[256];
	int i, holds = 0;

	for (i = 0; i < n; i++)
		holds |= seen == allowed[i];
	value_words(seen, words, sizeof(words));
	snprintf(detail, sizeof(detail), "saw %s", words);
	judged(slot, holds, detail);
}

HELPER void judge_pin(int slot, int holder, int addr)
{
	uint64_t frame = frame_of(addr);
	char detail[256];

	if (!frame) {
		not_judged(slot, "the owner's page is not present (unmapped or swapped out)");
		return;
	}
	snprintf(detail, sizeof(detail), "pinned frame %#llx, mapped frame %#llx",
		 (unsigned long long)pinned_frame[holder], (unsigned long long)frame);
	judged(slot, frame == pinned_frame[holder], detail);
}

HELPER void judge_no_copy(int slot, int addr, uint64_t before, uint64_t count)
{
	uint64_t after = frame_of(addr);
	char detail[256];

	if (!before || count != 1) {
		snprintf(detail, sizeof(detail), "the page was not mapped once before the store (frame %#llx, "
			 "kpagecount %llu)", (unsigned long long)before, (unsigned long long)count);
		not_judged(slot, detail);
		return;
	}
	snprintf(detail, sizeof(detail), "frame %#llx before the store, %#llx after", (unsigned long long)before,
		 (unsigned long long)after);
	judged(slot, after == before, detail);
}

/* judge_no_copy, where the trace keeps the THP's folio whole in the swap cache, its writeback under way: a
 * kernel that split the folio when it reclaimed it, or whose swap device has finished writing it, is not
 * running the trace: the run ends unsupported */
HELPER void judge_no_copy_of_folio(int slot, int addr, uint64_t before, uint64_t count)
{
	uint64_t flags = before ? kpage_word("/proc/kpageflags", before) : 0;

	if (before && !(flags & KPF_COMPOUND)) {
		stop(current_step, "the kernel split the THP when it reclaimed it (the trace keeps the folio whole)");
		return;
	}
	if (before && !(flags & KPF_WRITEBACK)) {
		stop(current_step, "the swap device had finished writing the folio out (the trace has it still under way)");
		return;
	}
	judge_no_copy(slot, addr, before, count);
}

HELPER void judge_faulted(int slot, int addr)
{
	if (!asked[addr]) {
		not_judged(slot, "clear_refs left the page soft-dirty (no write-protection was asked)");
		return;
	}
	asked[addr] = 0;
	judged(slot, soft_dirty_of(addr), soft_dirty_of(addr) ? "the page is soft-dirty again: the store faulted"
			: "the page stayed clean: the store went through without a fault");
}

/* the parent's report, once every process is done: TAP, then the one RESULT line */
HELPER int report(void)
{
	int n, passed = 0, failed = 0, skipped = 0, status;
	const char *first = NULL;

	for (n = 0; n < nchildren; n++)
		if (!reaped[n])
			waitpid(children[n], &status, 0);
	printf("TAP version 13\n");
	if (board->stopped && !strncmp(board->why, "skip: ", 6)) {
		printf("1..0 # SKIP %s\n", board->why + 6);
		printf("RESULT %s unsupported %s\n", scenario, board->why);
		return 4; /* KSFT_SKIP */
	}
	printf("1..%d\n", NCHECK);
	for (n = 0; n < NCHECK; n++) {
		struct slot *s = &board->checks[n];

		if (s->state == PASSED) {
			passed++;
			printf("ok %d %s: %s\n", n + 1, check_title[n], s->text);
		} else if (s->state == FAILED) {
			failed++;
			printf("not ok %d %s: %s\n", n + 1, check_title[n], s->text);
			if (!first)
				first = check_title[n];
		} else {
			skipped++;
			printf("ok %d %s # SKIP %s\n", n + 1, check_title[n],
			       s->state == SKIPPED ? s->text : "not reached");
		}
	}
	printf("# Totals: pass:%d fail:%d xfail:0 xpass:0 skip:%d error:0\n", passed, failed, skipped);
	if (failed) {
		for (n = 0; n < NCHECK; n++)
			if (board->checks[n].state == FAILED)
				break;
		printf("RESULT %s violated %s: %s\n", scenario, first, board->checks[n].text);
		return 1;
	}
	if (board->stopped) {
		printf("RESULT %s unsupported %s\n", scenario, board->why);
		return 4;
	}
	if (!passed) {
		printf("RESULT %s unsupported no step of the run judges %s on this kernel\n", scenario, property);
		return 4;
	}
	printf("RESULT %s holds %d check(s) of %s passed\n", scenario, passed, property);
	return 0;
}

"""
