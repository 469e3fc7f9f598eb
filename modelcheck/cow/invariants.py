"""The invariants of the COW world (cow-history §2.1), each a named check a spec can select.

Observations (a CPU load, reading a pipe filled by vmsplice, a device reading
through a GUP reference) are judged on the transition: what was seen is the
value of the page, in the state before the action.

* ``no_leak_to_child`` (I1): a child observes only its own writes and what the
  parent wrote before that child was forked (a sibling's write is a leak too).
* ``no_leak_to_parent`` (I2): the parent observes only its own writes.
* ``no_leak_across_fork``: both; the invariant of reference-world.md.
* ``pin_coherent`` (I3): while a R/W pin or a R/O long-term pin is held and its
  owner still maps the address, the owner's PTE maps the pinned page.
* ``no_lost_write`` (I4): a load by the owner, or a device read through the
  owner's reference, sees the owner's last completed write (CPU store or DMA).
* ``wrprotect_effective`` (I6): after mprotect(PROT_READ), uffd-wp or clear_refs
  returns, no store goes through that mapping without a fault.
* ``uffd_wp_effective``: while an address is write-protected through a
  synchronous userfaultfd (UFFDIO_WRITEPROTECT on, not yet off), no store to it
  completes: each waits for the monitor.
* ``ksm_unmerged``: once madvise(MADV_UNMERGEABLE) returns, the address maps no
  KSM page (ksm_functional_tests' unmerge tests).
* ``read_gup_no_write_fault`` (O15): a read-only GUP never raises a write fault
  (nor, through one, a uffd-wp event) on the page.
* ``refcount_sane``: nothing references a free page, no live page is left
  without a reference, speculative references stay within S.
* ``pin_checks_exact``: fork copies, and clear_refs leaves writable, only pages a
  FOLL_PIN holds. page_maybe_dma_pinned() (refcount >= 1024) is a heuristic, so
  a page with 1023 plain references more is taken for pinned; with symbolic
  references this shows, since z3 may give a page that many.
* ``large_folio_exclusive_when_writable``: a process maps a page of a large folio
  writable only while no other process maps any page of it (what 6.15's reuse
  of PTE-mapped THPs must keep).
* ``refcount_covers_mapcount`` (B15): a large folio's refcount is never below its
  large mapcount (a reference is taken before a mapping and dropped after it:
  1da190f4d0a6's ordering contract, which the reuse check's look relies on).
* ``no_kernel_warning``: no VM_WARN_ON_ONCE a decision asserts ever fires (a
  warning where the kernel is right is a bug too: 8bdea2fce980, 4b7c0857f87a).
* ``no_spurious_copy`` (I5): a write fault never copies a page that only this
  mapping and transient references hold. Every run also counts such copies
  (``spurious_copies``) without failing.

Each is registered where it is written, with the actions it watches and the
ghost state it needs (``mechanisms.ghost``): a world keeps that state only when
a check that needs it is chosen.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Protocol, TypeVar

from modelcheck.cow.actions import Act, Observation, observation, process_alive, process_name
from modelcheck.cow.kernel import Machine
from modelcheck.cow.layout import PAGE_KSM, PTE_SWAP, PTE_WRITE, pte_page
from modelcheck.cow.mechanisms.ghost import WARNINGS, Ghost
from modelcheck.cow.mechanisms.gup import fast_pin_in_flight
from modelcheck.cow.mechanisms.memory import folio_pages, info, mm_mappings, page_flags, page_live, refcount
from modelcheck.cow.policies import GUP_PIN_COUNTING_BIAS
from modelcheck.cow.registry import batch_twin
from modelcheck.cow.values import ValueTags
from modelcheck.engine.model import Invariant, Property, TransitionCheck, TransitionCount


class Words(Protocol):
    """What the checks' explanations need of the renderer."""

    def value_words(self, code: int) -> str: ...

    def action_label(self, act: Act) -> str: ...


Judge = tuple[Callable[..., bool], Callable[..., str]]  # (holds, explain) of a check of one model
Factory = Callable[[Machine, Words], Judge]
F = TypeVar("F", bound=Factory)


@dataclass(frozen=True)
class Declared:
    """An invariant a spec can select: a state invariant, or a check of every transition it ``watches``
    (action kinds, or a test of the action)."""

    name: str
    doc: str
    factory: Factory
    watches: frozenset[str] | Callable[[Any], bool] | None = None  # None: a state invariant
    ghost: frozenset[Ghost] = frozenset()

    def build(self, m: Machine, words: Words) -> Invariant | TransitionCheck:
        holds, explain = self.factory(m, words)
        if self.watches is None:
            return Invariant(self.name, holds, explain, doc=self.doc)
        watches: Callable[[Any], bool]
        if callable(self.watches):
            watches = self.watches
        else:
            kinds = self.watches
            watches = lambda act: act.kind in kinds  # noqa: E731
        return TransitionCheck(self.name, holds, explain, watches=watches, doc=self.doc)


_DECLARED: dict[str, Declared] = {}


def state_invariant(name: str, *, doc: str, ghost: Iterable[Ghost] = ()) -> Callable[[F], F]:
    """Register a property every reachable state must have; the factory gives (holds(s), explain(s))."""
    def register(factory: F) -> F:
        _DECLARED[name] = Declared(name, doc, factory, None, frozenset(ghost))
        return factory
    return register


def transition_check(name: str, *, doc: str, watches: Iterable[str] | Callable[[Act], bool],
                     ghost: Iterable[Ghost] = ()) -> Callable[[F], F]:
    """Register a property of every transition it watches; the factory gives (holds(b, a, t), explain(b, a, t))."""
    def register(factory: F) -> F:
        _DECLARED[name] = Declared(name, doc, factory, watches if callable(watches) else frozenset(watches),
                                   frozenset(ghost))
        return factory
    return register


OBSERVATIONS = ("read", "load", "pipe_read", "dma_read")  # the actions that see a value


# -- I1/I2: no leak across fork -------------------------------------------------------
@batch_twin("ReferenceBatch._leak_table")
def may_observe(tags: ValueTags, observer: int, code: int) -> bool:
    writer, n = tags.decode(code)
    if observer == 0:
        return writer == 0
    return writer == observer or (writer == 0 and n < observer)


def _leak_check(observers: Callable[[int], bool]) -> Factory:
    """A check that the processes ``observers`` accepts observe only values they may (``may_observe``)."""
    return lambda m, words: _judge_leaks(m, words, observers)


def _seen(m: Machine, before: tuple, act: Act) -> Observation:
    """What a watched action observed (a check watches only actions that observe)."""
    seen = observation(m, before, act)
    if seen is None:
        raise ValueError(f"{act.kind} observes nothing")
    return seen


@batch_twin("ReferenceBatch._observe")
def _judge_leaks(m: Machine, words: Words, observers: Callable[[int], bool]) -> Judge:
    verdicts: dict[tuple[int, int], bool] = {}  # (observer, value) -> allowed; a memo of this model's own

    def holds(before: tuple, act: Act, after: tuple) -> bool:
        seen = observation(m, before, act)  # (on every observation: no call more than it needs)
        if seen is None:
            raise ValueError(f"{act.kind} observes nothing")
        key = (seen.observer, operator.index(seen.value))  # plain ints: the memo outlives any one state
        allowed = verdicts.get(key)
        if allowed is None:
            allowed = verdicts[key] = not observers(seen.observer) or may_observe(m.tags, *key)
        return allowed

    def explain(before: tuple, act: Act, after: tuple) -> str:
        seen = _seen(m, before, act)
        observer, page, code = seen.observer, seen.page, seen.value
        who = process_name(observer)
        if observer == 0:
            why = "the parent must never see a write a child made after the fork"
        else:
            why = f"{who} may see only its own writes and the parent's writes from before fork {observer}"
        via = {"pipe_read": "through its pipe (a vmsplice reference)",
               "dma_read": "through a device reading its GUP reference"}.get(act.kind, "through its mapping")
        return f"{who} observed {words.value_words(code)} on page {page} {via}; {why}"

    return holds, explain


# which observers each leak check judges
LEAK_OBSERVERS: dict[str, Callable[[int], bool]] = {
    "no_leak_to_child": lambda p: p > 0,
    "no_leak_to_parent": lambda p: p == 0,
    "no_leak_across_fork": lambda p: True,
}
transition_check("no_leak_to_child", watches=OBSERVATIONS,
                 doc="a child never observes the parent's (or a sibling's) writes made after it was forked")(
    _leak_check(LEAK_OBSERVERS["no_leak_to_child"]))
transition_check("no_leak_to_parent", watches=OBSERVATIONS, doc="the parent never observes a child's writes")(
    _leak_check(LEAK_OBSERVERS["no_leak_to_parent"]))
transition_check("no_leak_across_fork", watches=OBSERVATIONS,
                 doc="no process observes a value that is neither its own nor inherited at fork")(
    _leak_check(LEAK_OBSERVERS["no_leak_across_fork"]))


# -- I3: pin coherence ------------------------------------------------------------------
@state_invariant("pin_coherent", doc="a held R/W or R/O long-term pin and its owner's mapping reach the same page")
def _pin_coherent(m: Machine, words: Words) -> Judge:
    L = m.layout
    pins = [(n, h) for n, h in enumerate(m.holders) if h.is_pin]

    def broken(s: tuple):
        for n, h in pins:
            held = s[L.holder_base + n]
            if not held or not process_alive(m, s, h.proc) or fast_pin_in_flight(m, s, n):
                continue  # (GUP-fast looks at the PTE again before it returns the pin, and drops it if it moved)
            pte = s[L.pte_index(h.proc, h.addr)]
            if pte and pte_page(pte) != held - 1:
                return h, held - 1, pte_page(pte)
        return None

    def explain(s: tuple) -> str:
        h, pinned, mapped = broken(s)
        return (f"{h.kind} {h.name} holds page {pinned} but {process_name(h.proc)}'s PTE a{h.addr} maps page {mapped}: "
                f"the device and the process no longer see the same memory")

    return lambda s: broken(s) is None, explain


# -- a writable page of a large folio ------------------------------------------------------------
@state_invariant("large_folio_exclusive_when_writable",
                 doc="a page of a large folio is mapped writable only while no other process maps that folio")
def _large_folio_exclusive_when_writable(m: Machine, words: Words) -> Judge:
    """What a COW reuse of a large folio must never break (6.15's MM-owner rule above all): a process that can
    write a page of the folio is the only one mapping any page of it. The kernel reaches such a state
    legitimately where only part of the folio was shared (fork after MADV_DONTFORK of the rest leaves the
    parent's unshared pages exclusive and writable), so it is a property of worlds that share a folio whole."""
    L = m.layout

    def broken(s: tuple) -> tuple[int, int, int] | None:
        if not L.features.thp:
            return None
        for p in range(s[0] + 1):
            for a in range(L.addresses):
                pte = s[L.pte_index(p, a)]
                if not pte & PTE_WRITE or pte & PTE_SWAP or not s[L.folio_base + pte_page(pte)]:
                    continue
                pages = folio_pages(m, s, pte_page(pte))
                for q in range(s[0] + 1):
                    if q != p and process_alive(m, s, q) and mm_mappings(m, s, pages, q):
                        return p, a, q
        return None

    def explain(s: tuple) -> str:
        p, a, q = broken(s) or (0, 0, 0)
        return (f"{process_name(p)} maps a{a} writable, a page of a large folio that {process_name(q)} maps too "
                f"(a reuse of a folio another process maps)")

    return lambda s: broken(s) is None, explain


@state_invariant("refcount_covers_mapcount",
                 doc="a large folio's refcount is never below its large mapcount (1da190f4d0a6's ordering contract)")
def _refcount_covers_mapcount(m: Machine, words: Words) -> Judge:
    """Each mapping of a large folio holds a reference, taken before it is mapped and dropped after it is
    unmapped, so at every point between any two steps the refcount covers the large mapcount: what lets
    __wp_can_reuse_large_anon_folio take "large mapcount == refcount" for "every reference is a mapping"."""
    L = m.layout

    def broken(s: tuple) -> tuple[int, int, int] | None:
        if not L.features.thp:
            return None
        for g in range(L.pages):
            code = s[L.folio_base + g]
            if not code or code & 7:  # not the head of a large folio
                continue
            pages = folio_pages(m, s, g)
            mapped = sum(mm_mappings(m, s, pages, p) for p in range(L.processes))
            referenced = refcount(m, s, g)
            if mapped > referenced:
                return g, mapped, referenced
        return None

    def explain(s: tuple) -> str:
        g, mapped, referenced = broken(s) or (0, 0, 0)
        return f"the large folio of page {g} is mapped {mapped} times but referenced only {referenced} times"

    return lambda s: broken(s) is None, explain


@state_invariant("no_kernel_warning", ghost=[Ghost.WARNINGS],
                 doc="no VM_WARN_ON_ONCE a decision asserts ever fires")
def _no_kernel_warning(m: Machine, words: Words) -> Judge:
    """The kernel's own assertions, as the policy states them (``policies.KernelWarning``): one that fires
    where the kernel did nothing wrong is a false alarm syzbot reports, and stops a panic_on_warn machine."""
    i = m.layout.warned_index

    def explain(s: tuple) -> str:
        fired = [w.value for n, w in enumerate(WARNINGS) if s[i] >> n & 1]
        return "the kernel warned: " + "; ".join(fired)

    return lambda s: not s[i], explain


# -- I4: no lost write --------------------------------------------------------------------
@transition_check("no_lost_write", watches=("read", "load", "dma_read"), ghost=[Ghost.LAST_WRITE],
                  doc="what the owner reads is its last completed write")
def _no_lost_write(m: Machine, words: Words) -> Judge:
    L = m.layout

    def expected(before: tuple, act: Act):
        seen = observation(m, before, act)
        if seen is None or seen.addr < 0:
            return None
        last = before[L.last_index(seen.observer, seen.addr, seen.cell)]
        return (seen.observer, seen.addr, seen.page, seen.value, last) if last and last != seen.value else None

    def explain(before: tuple, act: Act, after: tuple) -> str:
        observer, addr, page, code, last = expected(before, act)
        via = "the device reading for it" if act.kind == "dma_read" else "its load"
        return (f"{process_name(observer)}'s last completed write to a{addr} was {words.value_words(last)}, "
                f"but {via} sees {words.value_words(code)} on page {page}: that write was lost")

    return lambda b, a, t: expected(b, a) is None, explain


# -- I6: write-protection takes effect --------------------------------------------------------
@transition_check("wrprotect_effective", watches=("write", "store"), ghost=[Ghost.WRITE_PROTECT],
                  doc="after a write-protect request returns, a store faults")
def _wrprotect_effective(m: Machine, words: Words) -> Judge:
    L = m.layout

    def holds(before: tuple, act: Act, after: tuple) -> bool:
        requested = before[L.wp_base + act.proc * L.addresses + act.addr]
        return not (requested and act.branch in ("write", "tlb_write"))  # the store took no fault

    def explain(before: tuple, act: Act, after: tuple) -> str:
        via = "a stale writable TLB entry" if act.branch == "tlb_write" else "a writable PTE"
        return (f"{act.actor}'s store to a{act.addr} went through {via} although write-protection "
                f"(mprotect(PROT_READ), uffd-wp or clear_refs) was requested and no fault answered it")

    return holds, explain


# -- O15: a read GUP does not write-fault --------------------------------------------------------
@transition_check("uffd_wp_effective", watches=("store", "write"), ghost=[Ghost.UFFD_PROTECT],
                  doc="no store completes on an address a synchronous userfaultfd write-protects")
def _uffd_wp_effective(m: Machine, words: Words) -> Judge:
    L = m.layout

    def holds(before: tuple, act: Act, after: tuple) -> bool:
        return not before[L.uffd_base + act.proc * L.addresses + act.addr]

    def explain(before: tuple, act: Act, after: tuple) -> str:
        return (f"{words.action_label(act)} went on although a{act.addr} is write-protected through a "
                "synchronous userfaultfd (UFFDIO_WRITEPROTECT on, not turned off): no userfault stopped it")

    return holds, explain


@transition_check("ksm_unmerged", watches=("madvise_unmergeable",),
                  doc="once madvise(MADV_UNMERGEABLE) returns, the address maps no KSM page")
def _ksm_unmerged(m: Machine, words: Words) -> Judge:
    L = m.layout

    def holds(before: tuple, act: Act, after: tuple) -> bool:
        pte = after[L.pte_index(act.proc, act.addr)]
        return not (pte and not pte & PTE_SWAP and page_flags(m, after, pte_page(pte)) & PAGE_KSM)

    def explain(before: tuple, act: Act, after: tuple) -> str:
        return (f"{words.action_label(act)} returned with a{act.addr} still mapping a KSM page (ksm_functional_tests' "
                "'Pages were unmerged' fails)")

    return holds, explain


@transition_check("read_gup_no_write_fault", watches=("get_ro", "pin_ro", "pin_ro_fast", "vmsplice"),
                  doc="a read-only GUP never raises a write fault or a uffd-wp event")
def _read_gup_no_write_fault(m: Machine, words: Words) -> Judge:
    def holds(before: tuple, act: Act, after: tuple) -> bool:
        parts = act.branch.split("+")
        return "gup_cow_break" not in parts and "uffd_fault" not in parts

    def explain(before: tuple, act: Act, after: tuple) -> str:
        extra = " and raised a uffd-wp userfault" if "uffd_fault" in act.branch else ""
        return f"the read-only GUP {words.action_label(act)} triggered a write fault{extra}"

    return holds, explain


# -- refcount sanity -----------------------------------------------------------------------------------
@state_invariant("refcount_sane", doc="no free page is referenced, no live page is unreferenced, counts in bounds")
def _refcount_sane(m: Machine, words: Words) -> Judge:
    L = m.layout

    def problem(s: tuple) -> str | None:
        live = [page_live(m, s, g) for g in range(L.pages)]
        refs = [(f"{process_name(p)} PTE a{a}", pte_page(s[L.pte_index(p, a)]))
                for p in range(L.processes) for a in range(L.addresses) if s[L.pte_index(p, a)]]
        if L.pipe_base != L.value_base:
            refs += [(f"{process_name(p)} pipe", s[L.pipe_base + p] - 1) for p in range(L.processes) if s[L.pipe_base + p]]
        refs += [(f"holder {h.name}", s[L.holder_base + n] - 1) for n, h in enumerate(m.holders)
                 if s[L.holder_base + n]]
        for who, page in refs:
            if not live[page]:
                return f"{who} references free page {page}"
        for g in range(L.pages):
            if L.speculative and s[L.spec_base + g] < 0:
                return f"page {g} has a negative speculative count"
            if live[g] and refcount(m, s, g) <= 0 and g != m.zero_page:  # (the zero page lives for ever)
                return f"page {g} is live but nothing references it (leaked)"
            if not live[g] and page_flags(m, s, g):
                return f"free page {g} still has page flags"
        if L.speculative and sum(s[L.spec_base:L.spec_base + L.pages]) > L.speculative:
            return "more speculative references than S"
        return None

    return lambda s: problem(s) is None, lambda s: problem(s) or ""


@state_invariant("zero_page_pins_bounded",
                 doc="no FOLL_PIN holds the shared zero page with a reference: its one count is every process's, "
                     "and ~2 million pins of 1024 each fill its 31 bits")
def _zero_page_pins_bounded(m: Machine, words: Words) -> Judge:
    """c8070b787519: a pin of the zero page that raises its refcount is one user space can repeat at will (one
    per address of a large read-faulted mapping), until the count is negative and every GUP of the zero page
    in the system fails."""
    counted = [(index, m.holders[n]) for n, (index, weight) in enumerate(m.zero_page_holder_weights)
               if m.holders[n].is_pin and weight]

    def holding(s: tuple) -> str | None:
        return next((h.name for index, h in counted if s[index] == m.zero_page + 1), None) if m.zero_page >= 0 \
            else None

    def explain(s: tuple) -> str:
        name = holding(s)
        return (f"pin {name} holds the shared zero page {m.zero_page} with a reference of "
                f"{GUP_PIN_COUNTING_BIAS}: every process's zero-page mappings share its one count, and user "
                f"space can take such pins until it overflows")

    return lambda s: holding(s) is None, explain


# -- I5: spurious copies ------------------------------------------------------------------------------
@batch_twin("ReferenceBatch._write_fault_on")
def _spurious(m: Machine, before: tuple, act: Act) -> bool:
    """A write fault copied a page held only by this PTE and transient references (a page of a large folio:
    one held only by this mm's mappings)."""
    if act.addr < 0 or act.proc < 0:
        return False
    if any(name[0] == "h" and n for name, n in act.unknown):  # it copied because of references held outside
        return False
    L = m.layout
    pte = before[L.pte_index(act.proc, act.addr)]
    if not pte:
        return False
    page = pte_page(pte)
    if page == m.zero_page:  # never reused: a write fault on it always maps a fresh page
        return False
    page_info = info(m, before, page, act.proc)
    if page_info.large:  # a page of a large folio: every reference is a mapping of this mm's, or the swap cache's
        pages = folio_pages(m, before, page)  # while no other mm's swap entry names the folio
        mine = mm_mappings(m, before, pages, act.proc)
        cached = len(pages) if page_info.in_swapcache else 0
        return mine == page_info.large_mapcount == page_info.refcount - cached and not any(
            (c := before[L.pte_index(p, a)]) & PTE_SWAP and pte_page(c) in pages
            for p in range(L.processes) if p != act.proc for a in range(L.addresses))
    # transient: speculative references, an LRU batch, and the swap cache (I5, O11)
    transient = (before[L.spec_base + page] if L.speculative else 0) + int(page_info.in_lru_batch) + \
        int(page_info.in_swapcache)
    return page_info.mapcount == 1 and page_info.refcount - transient == 1


def _is_copy(act: Act) -> bool:
    return "copy" in act.branch.split("+")


@transition_check("no_spurious_copy", watches=_is_copy,
                  doc="a write fault never copies a page that only transient references share")
def _no_spurious_copy(m: Machine, words: Words) -> Judge:
    return (lambda b, a, t: not _spurious(m, b, a),
            lambda b, a, t: (f"{words.action_label(a)} copied a page that only its own mapping and transient "
                             f"references (speculative, LRU batch, swap cache) held"))


SPURIOUS_COPIES = "spurious_copies"  # counted on every run


def spurious_copy_count(m: Machine) -> TransitionCount:
    def matches(before: Any, act: Any, after: Any) -> bool:
        return _spurious(m, before, act)

    watches: Callable[[Any], bool] = _is_copy
    return TransitionCount(SPURIOUS_COPIES, matches, watches=watches,
                           doc="write faults that copied a page only transient references shared")


# -- page_maybe_dma_pinned's false positives ---------------------------------------------------------
@transition_check("pin_checks_exact", watches=("fork", "clear_refs"),
                  doc="fork copies, and clear_refs skips, only pages a FOLL_PIN holds")
def _pin_checks_exact(m: Machine, words: Words) -> Judge:
    L = m.layout
    pins = [L.holder_base + n for n, h in enumerate(m.holders) if h.is_pin]

    def unpinned(s: tuple, page: int) -> bool:
        return all(s[i] != page + 1 for i in pins)

    def taken_for_pinned(before: tuple, act: Act, after: tuple) -> list[int]:
        """The pages this step treated as pinned though no pin holds them."""
        pages: list[int] = []
        branches = act.branch.split("+")
        if act.kind == "fork" and "fork_copy" in branches:
            child = after[0]
            for a in range(L.addresses):
                mine, theirs = before[L.pte_index(0, a)], after[L.pte_index(child, a)]
                if mine and theirs and not (mine | theirs) & PTE_SWAP and pte_page(mine) != pte_page(theirs) \
                        and unpinned(before, pte_page(mine)):
                    pages.append(pte_page(mine))
        elif act.kind == "clear_refs" and "skip_pinned" in branches:
            for a in range(L.addresses):
                pte = after[L.pte_index(act.proc, a)]
                if pte and not pte & PTE_SWAP and pte & PTE_WRITE and unpinned(before, pte_page(pte)):
                    pages.append(pte_page(pte))
        return pages

    def explain(before: tuple, act: Act, after: tuple) -> str:
        what = "fork copied" if act.kind == "fork" else "clear_refs left writable"
        pages = ", ".join(str(p) for p in taken_for_pinned(before, act, after))
        return (f"{what} page {pages} as if pinned, but no FOLL_PIN holds it: page_maybe_dma_pinned() saw "
                f"a refcount of 1024 or more made of plain references")

    return lambda b, a, t: not taken_for_pinned(b, a, t), explain


# -- file mappings ------------------------------------------------------------------------------------------------
def _private_file_writes(m: Machine) -> frozenset[int]:
    """The scenario's writes (by number, as value tags name them) that go through a MAP_PRIVATE file mapping:
    stores to such an address, and device writes through a reference taken there."""
    from modelcheck.cow.operations import OPERATIONS

    chosen = set()
    for (ti, pc), n in m.write_op.items():
        op = m.threads[ti].program[pc]
        if not OPERATIONS[op.kind].writes:
            continue
        addr = op.addr if op.holder == "" else next(h.addr for h in m.holders if h.name == op.holder)
        if m.file_maps.get(addr) == "private":
            chosen.add(n)
    return frozenset(chosen)


@state_invariant("private_write_stays_private",
                 doc="a write through a MAP_PRIVATE file mapping never reaches the file's page")
def _private_write_stays_private(m: Machine, words: Words) -> Judge:
    L = m.layout
    private = _private_file_writes(m)
    P = L.processes

    def reached(s: tuple) -> int | None:
        if m.file_page < 0:
            return None
        for cell in range(L.features.cells):
            code = s[L.value_index(m.file_page, cell)]
            if code and (code - 1) // P in private:
                return code
        return None

    def explain(s: tuple) -> str:
        code = reached(s)
        return (f"the file's page {m.file_page} holds {words.value_words(code or 0)}, a write through a MAP_PRIVATE "
                f"mapping: every other mapping and read of the file now sees it")

    return lambda s: reached(s) is None, explain


def _must_refuse(m: Machine, n: int) -> bool:
    """What gup_longterm.c expects refused: a long-term writable pin of a shared mapping of a file whose file
    system needs dirty tracking (ext4, xfs, btrfs); R/O pins, private mappings and shmem must work."""
    h = m.holders[n]
    return h.is_pin and h.longterm and h.writable and m.needs_dirty_tracking(h.addr)


@state_invariant("no_longterm_pin_of_dirty_tracked_file",
                 doc="no long-term writable pin is held on a shared mapping of a file that needs dirty tracking")
def _no_longterm_pin_of_dirty_tracked_file(m: Machine, words: Words) -> Judge:
    L = m.layout
    watched = [n for n in range(len(m.holders)) if _must_refuse(m, n)]

    def held(s: tuple) -> int | None:
        return next((n for n in watched if s[L.holder_base + n] and not fast_pin_in_flight(m, s, n)), None)

    def explain(s: tuple) -> str:
        h = m.holders[held(s) or 0]
        return (f"{h.kind} {h.name} holds the page-cache page of a{h.addr}, a MAP_SHARED mapping of a {m.file_kind} "
                f"file that needs dirty tracking: the device writes it behind the file system's back")

    return lambda s: held(s) is None, explain


def _refused(act: Act) -> bool:
    return any(part in ("gup_refused", "iouring_refused") for part in act.branch.split("+"))


@transition_check("allowed_pin_not_refused", watches=_refused,
                  doc="a pin the kernel must allow (R/O, private, or of a file without dirty tracking) is not "
                      "refused")
def _allowed_pin_not_refused(m: Machine, words: Words) -> Judge:
    def explain(before: tuple, act: Act, after: tuple) -> str:
        h = m.holders[act.holder]
        how = m.file_maps.get(h.addr, "anon")
        return (f"{words.action_label(act)} was refused, but a {'writable' if h.writable else 'R/O'} "
                f"{'long-term ' if h.longterm else ''}pin of a{h.addr} ({how} mapping"
                f"{' of a ' + m.file_kind + ' file' if how != 'anon' else ''}) must work")

    return lambda b, a, t: _must_refuse(m, a.holder), explain


def names() -> list[str]:
    return list(_DECLARED)


def invariant_list() -> str:
    """The README's list of invariants (under "Writing a spec"): each as it is declared, with what it checks."""
    return "Invariants: " + ", ".join(f"`{d.name}` ({d.doc})" for d in _DECLARED.values()) + "."


def declared(name: str) -> Declared:
    try:
        return _DECLARED[name]
    except KeyError:
        raise KeyError(f"unknown invariant {name!r} (known: {', '.join(names())})") from None


def build(name: str, m: Machine, words: Words) -> Invariant | TransitionCheck:
    return declared(name).build(m, words)


def ghost_needed(chosen: Iterable[str]) -> frozenset[Ghost]:
    """The ghost state the ``chosen`` invariants need the world to keep."""
    return frozenset(g for name in chosen if name in _DECLARED for g in _DECLARED[name].ghost)


def build_all(chosen: tuple[str, ...], m: Machine, words: Words) -> tuple[Property, ...]:
    """The properties a model of ``m`` checks for the ``chosen`` invariants, and what every run counts."""
    return tuple(build(name, m, words) for name in chosen) + (spurious_copy_count(m),)


def property_names(chosen: tuple[str, ...]) -> frozenset[str]:
    """The names of ``build_all``'s properties."""
    return frozenset(chosen) | {SPURIOUS_COPIES}
