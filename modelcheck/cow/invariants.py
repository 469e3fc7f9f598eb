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
* ``read_gup_no_write_fault`` (O15): a read-only GUP never raises a write fault
  (nor, through one, a uffd-wp event) on the page.
* ``refcount_sane``: nothing references a free page, no live page is left
  without a reference, speculative references stay within S.
* ``pin_checks_exact``: fork copies, and clear_refs leaves writable, only pages a
  FOLL_PIN holds. page_maybe_dma_pinned() (refcount >= 1024) is a heuristic, so
  a page with 1023 plain references more is taken for pinned; with symbolic
  references this shows, since z3 may give a page that many.
* ``no_spurious_copy`` (I5): a write fault never copies a page that only this
  mapping and transient references hold. Every run also counts such copies
  (``spurious_copies``) without failing.
"""

from __future__ import annotations

import operator
from typing import Callable, Protocol

from modelcheck.cow.actions import Act, observation, process_alive, process_name
from modelcheck.cow.kernel import Machine
from modelcheck.cow.layout import PTE_SWAP, PTE_WRITE, pte_page
from modelcheck.cow.mechanisms.memory import info, page_flags, page_live, refcount
from modelcheck.cow.values import ValueTags
from modelcheck.engine.model import Invariant, Property, TransitionCheck, TransitionCount


class Words(Protocol):
    """What the checks' explanations need of the renderer."""

    def value_words(self, code: int) -> str: ...

    def action_label(self, act: Act) -> str: ...

_OBSERVATIONS = frozenset({"read", "load", "pipe_read", "dma_read"})
_STORES = frozenset({"write", "store"})
_READ_GUPS = frozenset({"get_ro", "pin_ro", "vmsplice"})


# -- I1/I2: no leak across fork -------------------------------------------------------
def may_observe(tags: ValueTags, observer: int, code: int) -> bool:
    writer, n = tags.decode(code)
    if observer == 0:
        return writer == 0
    return writer == observer or (writer == 0 and n < observer)


def _leak_check(name: str, m: Machine, words: Words, observers: Callable[[int], bool], doc: str) -> TransitionCheck:
    verdicts: dict[tuple[int, int], bool] = {}  # (observer, value) -> allowed; a memo of this model's own

    def holds(before: tuple, act: Act, after: tuple) -> bool:
        seen = observation(m, before, act)
        key = (seen.observer, operator.index(seen.value))  # plain ints: the memo outlives any one state
        allowed = verdicts.get(key)
        if allowed is None:
            allowed = verdicts[key] = not observers(seen.observer) or may_observe(m.tags, *key)
        return allowed

    def explain(before: tuple, act: Act, after: tuple) -> str:
        seen = observation(m, before, act)
        observer, page, code = seen.observer, seen.page, seen.value
        who = process_name(observer)
        if observer == 0:
            why = "the parent must never see a write a child made after the fork"
        else:
            why = f"{who} may see only its own writes and the parent's writes from before fork {observer}"
        via = {"pipe_read": "through its pipe (a vmsplice reference)",
               "dma_read": "through a device reading its GUP reference"}.get(act.kind, "through its mapping")
        return f"{who} observed {words.value_words(code)} on page {page} {via}; {why}"

    return TransitionCheck(name=name, holds=holds, explain=explain,
                           watches=lambda act: act.kind in _OBSERVATIONS, doc=doc)


# -- I3: pin coherence ------------------------------------------------------------------
def _pin_coherent(m: Machine, words: Words) -> Invariant:
    L = m.layout
    pins = [(n, h) for n, h in enumerate(m.holders) if h.is_pin]

    def broken(s: tuple):
        for n, h in pins:
            held = s[L.holder_base + n]
            if not held or not process_alive(m, s, h.proc):
                continue
            pte = s[L.pte_index(h.proc, h.addr)]
            if pte and pte_page(pte) != held - 1:
                return h, held - 1, pte_page(pte)
        return None

    def explain(s: tuple) -> str:
        h, pinned, mapped = broken(s)
        return (f"{h.kind} {h.name} holds page {pinned} but {process_name(h.proc)}'s PTE a{h.addr} maps page {mapped}: "
                f"the device and the process no longer see the same memory")

    return Invariant("pin_coherent", lambda s: broken(s) is None, explain,
                     doc="a held R/W or R/O long-term pin and its owner's mapping reach the same page")


# -- I4: no lost write --------------------------------------------------------------------
def _no_lost_write(m: Machine, words: Words) -> TransitionCheck:
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

    return TransitionCheck("no_lost_write", lambda b, a, t: expected(b, a) is None, explain,
                           watches=lambda act: act.kind in ("read", "load", "dma_read"),
                           doc="what the owner reads is its last completed write")


# -- I6: write-protection takes effect --------------------------------------------------------
def _wrprotect_effective(m: Machine, words: Words) -> TransitionCheck:
    L = m.layout

    def holds(before: tuple, act: Act, after: tuple) -> bool:
        requested = before[L.wp_base + act.proc * L.addresses + act.addr]
        return not (requested and act.branch in ("write", "tlb_write"))  # the store took no fault

    def explain(before: tuple, act: Act, after: tuple) -> str:
        via = "a stale writable TLB entry" if act.branch == "tlb_write" else "a writable PTE"
        return (f"{act.actor}'s store to a{act.addr} went through {via} although write-protection "
                f"(mprotect(PROT_READ), uffd-wp or clear_refs) was requested and no fault answered it")

    return TransitionCheck("wrprotect_effective", holds, explain, watches=lambda act: act.kind in _STORES,
                           doc="after a write-protect request returns, a store faults")


# -- O15: a read GUP does not write-fault --------------------------------------------------------
def _read_gup_no_write_fault(m: Machine, words: Words) -> TransitionCheck:
    def holds(before: tuple, act: Act, after: tuple) -> bool:
        parts = act.branch.split("+")
        return "gup_cow_break" not in parts and "uffd_fault" not in parts

    def explain(before: tuple, act: Act, after: tuple) -> str:
        extra = " and raised a uffd-wp userfault" if "uffd_fault" in act.branch else ""
        return f"the read-only GUP {words.action_label(act)} triggered a write fault{extra}"

    return TransitionCheck("read_gup_no_write_fault", holds, explain, watches=lambda act: act.kind in _READ_GUPS,
                           doc="a read-only GUP never raises a write fault or a uffd-wp event")


# -- refcount sanity -----------------------------------------------------------------------------------
def _refcount_sane(m: Machine, words: Words) -> Invariant:
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
            if live[g] and refcount(m, s, g) <= 0:
                return f"page {g} is live but nothing references it (leaked)"
            if not live[g] and page_flags(m, s, g):
                return f"free page {g} still has page flags"
        if L.speculative and sum(s[L.spec_base:L.spec_base + L.pages]) > L.speculative:
            return "more speculative references than S"
        return None

    return Invariant("refcount_sane", lambda s: problem(s) is None, lambda s: problem(s) or "",
                     doc="no free page is referenced, no live page is unreferenced, counts in bounds")


# -- I5: spurious copies ------------------------------------------------------------------------------
def _spurious(m: Machine, before: tuple, act: Act) -> bool:
    """A write fault copied a page held only by this PTE and transient references."""
    if act.addr < 0 or act.proc < 0:
        return False
    if any(name[0] == "h" and n for name, n in act.unknown):  # it copied because of references held outside
        return False
    L = m.layout
    pte = before[L.pte_index(act.proc, act.addr)]
    if not pte:
        return False
    page = pte_page(pte)
    page_info = info(m, before, page, act.proc)
    # transient: speculative references, an LRU batch, and the swap cache (I5, O11)
    transient = (before[L.spec_base + page] if L.speculative else 0) + int(page_info.in_lru_batch) + \
        int(page_info.in_swapcache)
    return page_info.mapcount == 1 and page_info.refcount - transient == 1


def _is_copy(act: Act) -> bool:
    return "copy" in act.branch.split("+")


def _no_spurious_copy(m: Machine, words: Words) -> TransitionCheck:
    return TransitionCheck(
        "no_spurious_copy", lambda b, a, t: not _spurious(m, b, a),
        lambda b, a, t: (f"{words.action_label(a)} copied a page that only its own mapping and transient "
                         f"references (speculative, LRU batch, swap cache) held"),
        watches=_is_copy, doc="a write fault never copies a page that only transient references share")


SPURIOUS_COPIES = "spurious_copies"  # counted on every run


def spurious_copy_count(m: Machine) -> TransitionCount:
    return TransitionCount(SPURIOUS_COPIES, lambda b, a, t: _spurious(m, b, a), watches=_is_copy,
                           doc="write faults that copied a page only transient references shared")


# -- page_maybe_dma_pinned's false positives ---------------------------------------------------------
def _pin_checks_exact(m: Machine, words: Words) -> TransitionCheck:
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

    return TransitionCheck("pin_checks_exact", lambda b, a, t: not taken_for_pinned(b, a, t), explain,
                           watches=lambda act: act.kind in ("fork", "clear_refs"),
                           doc="fork copies, and clear_refs skips, only pages a FOLL_PIN holds")


# which observers each leak check judges
LEAK_OBSERVERS: dict[str, Callable[[int], bool]] = {
    "no_leak_to_child": lambda p: p > 0,
    "no_leak_to_parent": lambda p: p == 0,
    "no_leak_across_fork": lambda p: True,
}

_FACTORIES: dict[str, Callable[[Machine, Words], Invariant | TransitionCheck]] = {
    "no_leak_to_child": lambda m, w: _leak_check(
        "no_leak_to_child", m, w, LEAK_OBSERVERS["no_leak_to_child"],
        "a child never observes the parent's (or a sibling's) writes made after it was forked"),
    "no_leak_to_parent": lambda m, w: _leak_check(
        "no_leak_to_parent", m, w, LEAK_OBSERVERS["no_leak_to_parent"], "the parent never observes a child's writes"),
    "no_leak_across_fork": lambda m, w: _leak_check(
        "no_leak_across_fork", m, w, LEAK_OBSERVERS["no_leak_across_fork"],
        "no process observes a value that is neither its own nor inherited at fork"),
    "pin_coherent": _pin_coherent,
    "no_lost_write": _no_lost_write,
    "wrprotect_effective": _wrprotect_effective,
    "read_gup_no_write_fault": _read_gup_no_write_fault,
    "refcount_sane": _refcount_sane,
    "no_spurious_copy": _no_spurious_copy,
    "pin_checks_exact": _pin_checks_exact,
}


def names() -> list[str]:
    return list(_FACTORIES)


def build(name: str, m: Machine, words: Words) -> Invariant | TransitionCheck:
    try:
        factory = _FACTORIES[name]
    except KeyError:
        raise KeyError(f"unknown invariant {name!r} (known: {', '.join(names())})") from None
    return factory(m, words)


def build_all(chosen: tuple[str, ...], m: Machine, words: Words) -> tuple[Property, ...]:
    """The properties a model of ``m`` checks for the ``chosen`` invariants, and what every run counts."""
    return tuple(build(name, m, words) for name in chosen) + (spurious_copy_count(m),)


def property_names(chosen: tuple[str, ...]) -> frozenset[str]:
    """The names of ``build_all``'s properties."""
    return frozenset(chosen) | {SPURIOUS_COPIES}
