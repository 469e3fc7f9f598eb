"""Write-protecting operations: mprotect, madvise(MADV_DONTFORK), clear_refs soft-dirty reset, uffd-wp.

On the world's THP an operation on one address is one on part of the PMD's range: the VMA is split there and
the PMD with it (vma_adjust_trans_huge: split_huge_pmd_address), so the address's PTE is changed alone; the
``*_thp`` forms cover the whole range, as cow.c's mprotect() of the whole THP does, and change the PMD itself
(change_huge_pmd). hugetlb pages are changed as wholes (hugetlb_change_protection), never made writable by
mprotect, and clear_refs does not walk them (its walk has no hugetlb_entry).
"""

from __future__ import annotations

from modelcheck.cow.kernel import Kernel, Machine, MutableSlots
from modelcheck.cow.layout import (PTE_SOFTDIRTY, PTE_SWAP, PTE_UFFD_WP, PTE_WRITE, VMA_DONTFORK, VMA_UFFD_WP,
                                   VMA_UFFD_WP_ASYNC, VMA_WRITE, pte_page)
from modelcheck.cow.mechanisms.ghost import clear_write_protect_request, request_write_protect, set_uffd_protected
from modelcheck.cow.mechanisms.memory import info
from modelcheck.cow.mechanisms.thp import PMD_SPLIT_BY_VMA, pmd_head, pmd_mapped, split_part_of_pmd
from modelcheck.cow.registry import Branch, mechanism, operation, outcome


class Protection(Branch):
    WRPROTECT = "wrprotect"
    SKIP_PINNED = "skip_pinned", "a maybe-pinned page is skipped ({policy})"
    MPROTECT_UPGRADE = "mprotect_upgrade", "mprotect maps the exclusive page writable at once ({policy})"
    MPROTECT_RW = outcome("mprotect_rw")
    PMD_SPLIT = PMD_SPLIT_BY_VMA
    PMD_UPGRADE = "pmd_upgrade", "mprotect maps the exclusive PMD-mapped THP writable at once ({policy})"
    DONTFORK = outcome("dontfork")
    CLEAR_REFS = outcome("clear_refs")
    CLEAR_REFS_UNTRACKED = outcome("clear_refs_untracked")  # no soft-dirty tracking: the write is accepted, no PTE changes
    UFFD_UNWP = outcome("uffd_unwp")
    UFFD_REFUSED = outcome("uffd_refused", "UFFDIO_API refused UFFD_FEATURE_WP_ASYNC (EINVAL, before 6.7): the address "
                                           "was never registered, and nothing is write-protected ({policy})")


def address_protected(m: Machine, t: MutableSlots, proc: int, addr: int) -> None:
    """mprotect(PROT_READ) or uffd-wp returned: from now on a store to ``addr`` must fault (ghost state)."""
    request_write_protect(m, t, proc, addr)


def range_protected(m: Machine, t: MutableSlots, proc: int, addr: int) -> None:
    """mprotect(PROT_READ) of the THP's whole range returned: a store to any address of it must fault."""
    for a in range(m.layout.features.thp):
        request_write_protect(m, t, proc, a)


def registered_protected(m: Machine, t: MutableSlots, proc: int, addr: int) -> None:
    """uffd-wp returned: as ``address_protected`` where the address is registered (an async userfaultfd that
    UFFDIO_API refused registered nothing, so nothing is asked of a later store)."""
    if uffd_registered(m, t, proc, addr):
        request_write_protect(m, t, proc, addr)
        L = m.layout
        if not t[L.vma_base + proc * L.addresses + addr] & VMA_UFFD_WP_ASYNC:  # a store must wait for the monitor
            set_uffd_protected(m, t, proc, addr, True)


def uffd_registered(m: Machine, t: MutableSlots, proc: int, addr: int) -> bool:
    return bool(t[m.layout.vma_base + proc * m.layout.addresses + addr] & VMA_UFFD_WP)


def clean_ptes_protected(m: Machine, t: MutableSlots, proc: int, addr: int) -> None:
    """clear_refs returned: a store through any write-protected, clean PTE of the process must fault
    (nothing is asked of a kernel without soft-dirty tracking, whose clear_refs 4 write-protects nothing)."""
    L = m.layout
    if not m.soft_dirty_on:
        return
    for a in range(L.addresses):
        pte = t[L.pte_index(proc, a)]
        if pte and not pte & (PTE_WRITE | PTE_SOFTDIRTY | PTE_SWAP):  # write-protected and clean
            request_write_protect(m, t, proc, a)


@operation("mprotect_ro aN", Protection, summary="mprotect(PROT_READ)", needs=("vma",), on_return=address_protected,
           deferred_flush="address")
def op_mprotect_ro(k: Kernel, t: MutableSlots, proc: int, addr: int) -> str | None:
    L = k.layout
    split = split_part_of_pmd(k, t, proc, addr)
    t[L.vma_base + proc * L.addresses + addr] &= ~VMA_WRITE
    return split + wrprotect_pte(k, t, proc, addr, 0)


@operation("mprotect_rw aN", Protection, summary="mprotect(PROT_READ|PROT_WRITE)", needs=("vma",))
def op_mprotect_rw(k: Kernel, t: MutableSlots, proc: int, addr: int) -> str | None:
    """VM_WRITE again; a private anonymous PTE stays read-only unless the policy upgrades it (6.0)."""
    L = k.layout
    split = split_part_of_pmd(k, t, proc, addr)
    t[L.vma_base + proc * L.addresses + addr] |= VMA_WRITE
    clear_write_protect_request(k, t, proc, addr)
    return split + upgrade_pte(k, t, proc, addr)


@operation("mprotect_thp_ro aN", Protection, summary="mprotect(PROT_READ) of the THP's whole range (aN is any "
           "address in it): change_huge_pmd where a PMD maps it, else every PTE of the range", needs=("vma",),
           on_return=range_protected)
def op_mprotect_thp_ro(k: Kernel, t: MutableSlots, proc: int, addr: int) -> str | None:
    L = k.layout
    for a in range(L.features.thp):
        t[L.vma_base + proc * L.addresses + a] &= ~VMA_WRITE
    if pmd_mapped(k, t, proc, 0):  # the PMD's entries carry its bits: write-protecting them is the PMD's
        return wrprotect_pmd(k, t, proc, 0)
    for a in range(L.features.thp):
        wrprotect_pte(k, t, proc, a, 0)
    return "wrprotect"


@operation("mprotect_thp_rw aN", Protection, summary="mprotect(PROT_READ|PROT_WRITE) of the THP's whole range (aN "
           "is any address in it): change_huge_pmd where a PMD maps it, else every PTE of the range",
           needs=("vma",))
def op_mprotect_thp_rw(k: Kernel, t: MutableSlots, proc: int, addr: int) -> str | None:
    """VM_WRITE again over the range; a PMD is upgraded as a whole when the policy upgrades its head (the
    head's PG_anon_exclusive is the folio's while a PMD maps it: can_change_pmd_writable)."""
    L = k.layout
    thp = L.features.thp
    for a in range(thp):
        t[L.vma_base + proc * L.addresses + a] |= VMA_WRITE
        clear_write_protect_request(k, t, proc, a)
    if pmd_mapped(k, t, proc, 0):
        if t[L.pte_index(proc, 0)] & PTE_WRITE or not upgrades(k, t, proc, 0, pmd_head(k, t, proc)):
            return "mprotect_rw"
        for a in range(thp):
            t[L.pte_index(proc, a)] |= PTE_WRITE
        return "pmd_upgrade"
    branches = {upgrade_pte(k, t, proc, a) for a in range(thp)}
    return "mprotect_upgrade" if "mprotect_upgrade" in branches else "mprotect_rw"


def upgrade_pte(k: Kernel, t: MutableSlots, proc: int, addr: int) -> str:
    """change_pte_range with MM_CP_TRY_CHANGE_WRITABLE on a read-only private anonymous PTE: writable at
    once if the policy says so (hugetlb_change_protection never does)."""
    i = k.layout.pte_index(proc, addr)
    pte = t[i]
    if (pte and not pte & (PTE_WRITE | PTE_UFFD_WP | PTE_SWAP) and pte_page(pte) != k.zero_page
            and not k.hugetlb_on and upgrades(k, t, proc, addr, pte_page(pte))):
        t[i] = pte | PTE_WRITE
        return "mprotect_upgrade"
    return "mprotect_rw"


def upgrades(k: Kernel, t: MutableSlots, proc: int, addr: int, page: int) -> bool:
    """The policy maps ``page`` writable at once; it is told whether soft-dirty tracking needs no write fault:
    the entry is soft-dirty already, or the kernel tracks no soft-dirty at all (vma_soft_dirty_enabled is false
    without CONFIG_MEM_SOFT_DIRTY). A uffd-wp entry is never upgraded."""
    pte = t[k.layout.pte_index(proc, addr)]
    if pte & PTE_UFFD_WP:
        return False
    soft_dirty = not k.soft_dirty_on or bool(pte & PTE_SOFTDIRTY)
    return k.policy.mprotect_makes_writable(info(k, t, page, proc), soft_dirty)


@operation("dontfork aN", Protection, summary="madvise(MADV_DONTFORK)", needs=("vma",))
def op_dontfork(k: Kernel, t: MutableSlots, proc: int, addr: int) -> str | None:
    L = k.layout
    split = split_part_of_pmd(k, t, proc, addr)
    t[L.vma_base + proc * L.addresses + addr] |= VMA_DONTFORK
    return split + "dontfork"


@operation("clear_refs", Protection, summary="echo 4 > /proc/self/clear_refs (soft-dirty reset)", needs=("pte_flags",),
           on_return=clean_ptes_protected, deferred_flush="mm",
           defers=lambda policy: policy.clear_refs_flushes_tlb)  # before 912efa17e512 it did not flush at all
def op_clear_refs(k: Kernel, t: MutableSlots, proc: int) -> str | None:
    """Soft-dirty reset of every PTE of the process (clear_refs_write with 4); without CONFIG_MEM_SOFT_DIRTY
    the write succeeds and the walk leaves every PTE as it was (clear_soft_dirty returns at once)."""
    L = k.layout
    if not k.soft_dirty_on or k.hugetlb_on:  # (hugetlb: the walk has no hugetlb_entry and skips them)
        return "clear_refs_untracked"
    branches = []
    huge = k.folios_on and pmd_mapped(k, t, proc, 0)
    for a in range(L.addresses):
        i = L.pte_index(proc, a)
        pte = t[i]
        if not pte or pte & PTE_SWAP:
            continue
        if huge and a < L.features.thp:  # clear_soft_dirty_pmd: the PMD is write-protected, pinned or not
            t[i] = pte & ~(PTE_WRITE | PTE_SOFTDIRTY)
            continue
        if k.policy.clear_refs_skips(info(k, t, pte_page(pte), proc), bool(pte & PTE_WRITE)):
            branches.append("skip_pinned")  # left writable and soft-dirty: a write is still recorded
            continue
        t[i] = pte & ~(PTE_WRITE | PTE_SOFTDIRTY)
    return "clear_refs" + "".join(f"+{b}" for b in sorted(set(branches)))


@operation("uffd_wp_async aN", Protection, summary="UFFDIO_WRITEPROTECT on, through a userfaultfd opened with "
           "UFFD_FEATURE_WP_ASYNC (v6.7): a write fault clears the bit in the kernel, no event",
           needs=("vma", "pte_flags", "uffd"), on_return=registered_protected, deferred_flush="address")
@operation("uffd_wp aN", Protection, summary="UFFDIO_WRITEPROTECT on", needs=("vma", "pte_flags", "uffd"),
           note="UFFDIO_WRITEPROTECT on; `uffd_wp_async` through a userfaultfd with UFFD_FEATURE_WP_ASYNC, v6.7",
           on_return=registered_protected, deferred_flush="address")
def op_uffd_wp(k: Kernel, t: MutableSlots, proc: int, addr: int) -> str | None:
    """UFFDIO_WRITEPROTECT on: the uffd-wp bit, and no write bit. The registration, synchronous or async, was
    made when the scenario began (the VMA's flags); a kernel without d61ea1cb0095 fails the async one's
    UFFDIO_API handshake with EINVAL, so the range is not registered and this call changes nothing."""
    i = k.layout.pte_index(proc, addr)
    if not t[i]:
        return None
    if not uffd_registered(k, t, proc, addr):
        return "uffd_refused"
    return wrprotect_pte(k, t, proc, addr, PTE_UFFD_WP)


@operation("uffd_unwp aN", Protection, summary="UFFDIO_WRITEPROTECT off", needs=("vma", "pte_flags", "uffd"),
           deferred_flush="address")
def op_uffd_unwp(k: Kernel, t: MutableSlots, proc: int, addr: int) -> str | None:
    """UFFDIO_WRITEPROTECT off: the bit goes, and the write bit with it.

    Nadav Amit's analysis for 6ce64428d620: unprotecting "unintentionally
    *clears* the RW-bit if it was already set" (a valid request when a range
    mixes protected and unprotected PTEs), so the next store write-faults and
    the TLB flush is deferred like a protect's.
    """
    i = k.layout.pte_index(proc, addr)
    if not t[i]:
        return None
    if not uffd_registered(k, t, proc, addr):
        return "uffd_refused"
    t[i] &= ~(PTE_UFFD_WP | PTE_WRITE)
    clear_write_protect_request(k, t, proc, addr)
    set_uffd_protected(k, t, proc, addr, False)
    return "uffd_unwp"


def wrprotect_pmd(k: Kernel, t: MutableSlots, proc: int, bits: int) -> str:
    """change_huge_pmd write-protecting ``proc``'s PMD (its entries carry its bits), unless the policy leaves
    the head's folio writable."""
    L = k.layout
    first = t[L.pte_index(proc, 0)]
    if first & PTE_WRITE and k.policy.wrprotect_skips(info(k, t, pmd_head(k, t, proc), proc)):
        return "wrprotect+skip_pinned"
    for a in range(L.features.thp):
        i = L.pte_index(proc, a)
        t[i] = (t[i] & ~PTE_WRITE) | bits
    return "wrprotect"


@mechanism(Protection)
def wrprotect_pte(k: Kernel, t: MutableSlots, proc: int, addr: int, bits: int) -> str:
    L = k.layout
    i = L.pte_index(proc, addr)
    pte = t[i]
    if not pte or pte & PTE_SWAP:
        return "wrprotect"
    if pte & PTE_WRITE and k.policy.wrprotect_skips(info(k, t, pte_page(pte), proc)):
        return "wrprotect+skip_pinned"
    t[i] = (pte & ~PTE_WRITE) | bits
    return "wrprotect"
