"""get_user_pages: FOLL_GET and FOLL_PIN references, pipes filled by vmsplice, devices doing DMA."""

from __future__ import annotations

from modelcheck.cow.kernel import Kernel, MutableSlots
from modelcheck.cow.layout import MM_HAS_PINNED, PTE_SWAP, PTE_UFFD_WP, PTE_WRITE, pte_page
from modelcheck.cow.mechanisms.faults import unshare_fault, write_fault
from modelcheck.cow.mechanisms.ghost import clear_write_protect_request, record_write
from modelcheck.cow.mechanisms.memory import info, release
from modelcheck.cow.mechanisms.swap import swap_in
from modelcheck.cow.policies import GupFirst, GupRequest


def gup_prepare(k: Kernel, t: MutableSlots, proc: int, addr: int, write: bool, pin: bool,
                longterm: bool) -> str | None:
    """Fault the page in as the policy asks before a reference is taken; None when nothing is mapped."""
    L = k.layout
    i = L.pte_index(proc, addr)
    pte = t[i]
    if not pte:
        return None
    if pin and L.features.mm:
        t[L.mm_base + proc] |= MM_HAS_PINNED  # set before any page is pinned, never cleared
    swapped = ""
    if pte & PTE_SWAP:  # faultin_page: a swap-in fault first (a write one for FOLL_WRITE)
        swapped = swap_in(k, t, proc, addr, write=write and not pte & PTE_UFFD_WP) + "+"
        pte = t[i]
    request = GupRequest(write=write, pin=pin, longterm=longterm, pte_writable=bool(pte & PTE_WRITE))
    first = k.policy.gup(request, info(k, t, pte_page(pte), proc))
    if first is GupFirst.WRITE_FAULT and not pte & PTE_WRITE:
        # a forced COW break on a read GUP is what 17839856fd58 did; on a uffd-wp PTE it raises
        # a userfault, which the handler resolves by write-unprotecting
        uffd = "uffd_fault+" if pte & PTE_UFFD_WP else ""
        if uffd:
            t[i] = pte & ~PTE_UFFD_WP
            clear_write_protect_request(k, t, proc, addr)
        fault = write_fault(k, t, proc, addr)
        if fault is None:
            return None  # waits for the page lock
        return swapped + uffd + ("gup_write_fault+" if write else "gup_cow_break+") + fault
    if first is GupFirst.UNSHARE and not pte & PTE_WRITE:
        return swapped + unshare_fault(k, t, proc, addr)
    return swapped + "gup"


def op_gup(k: Kernel, t: MutableSlots, holder: int) -> str | None:
    """Take the scenario's GUP reference number ``holder``."""
    h = k.holders[holder]
    branch = gup_prepare(k, t, h.proc, h.addr, h.writable, h.is_pin, h.is_pin)
    if branch is None:
        return None
    L = k.layout
    t[L.holder_base + holder] = pte_page(t[L.pte_index(h.proc, h.addr)]) + 1
    return branch


def op_put(k: Kernel, t: MutableSlots, holder: int) -> str | None:
    L = k.layout
    i = L.holder_base + holder
    if not t[i]:
        return None
    page = t[i] - 1
    t[i] = 0
    release(k, t, page)
    return "put"


def op_dma_write(k: Kernel, t: MutableSlots, holder: int, tag: int) -> str | None:
    """The device writes through the reference; for its owner that write has completed."""
    L = k.layout
    page = t[L.holder_base + holder] - 1
    if page < 0:
        return None
    h = k.holders[holder]
    t[L.value_index(page, h.cell)] = tag
    record_write(k, t, h.proc, h.addr, tag, h.cell)
    return "dma_write"


def op_dma_read(k: Kernel, t: MutableSlots, holder: int) -> str | None:
    return "dma_read" if t[k.layout.holder_base + holder] else None


def op_vmsplice(k: Kernel, t: MutableSlots, proc: int, addr: int) -> str | None:
    """vmsplice(): a read FOLL_GET through get_user_pages_fast, held by the process's pipe."""
    L = k.layout
    if t[L.pipe_base + proc]:
        return None
    branch = gup_prepare(k, t, proc, addr, write=False, pin=False, longterm=False)
    if branch is None:
        return None
    t[L.pipe_base + proc] = pte_page(t[L.pte_index(proc, addr)]) + 1
    return branch


def op_pipe_read(k: Kernel, t: MutableSlots, proc: int) -> str | None:
    L = k.layout
    i = L.pipe_base + proc
    if L.pipe_base == L.value_base or not t[i]:  # no pipes in this world, or an empty one
        return None
    page = t[i] - 1
    t[i] = 0
    release(k, t, page)
    return "pipe_read"
