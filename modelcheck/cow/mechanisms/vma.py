"""The address space rearranged: mremap moves a mapping, MADV_DONTNEED zaps it, MADV_DOFORK undoes DONTFORK.

Read in the 7.1.5 tree. mremap (mm/mremap.c) with MREMAP_MAYMOVE|MREMAP_FIXED unmaps whatever the new address
maps, then move_ptes moves each PTE as it is: the page, its write bit, its uffd-wp bit (cleared only for a
userfaultfd without the remap event, which the world refuses) and a swap entry alike, marked soft-dirty at its
new address (move_soft_dirty_pte); no page is copied or referenced anew, so the page's mapcount, refcount and
PageAnonExclusive stay what they were, and a stale TLB entry of the old address is flushed before mmap_lock
(held for writing) goes. The old address is unmapped. MADV_DONTNEED (mm/madvise.c, under mmap_lock for reading
only) zaps the PTEs of the range and drops their references, keeping the VMA: the next access faults a fresh
page in, or the shared zero page for a read (``faults.first_touch``), and reads zeros. MADV_DOFORK clears
VM_DONTCOPY again (VM_DONTFORK in the world).
"""

from __future__ import annotations

from modelcheck.cow.kernel import Kernel, MutableSlots
from modelcheck.cow.layout import (PAGE_SWAPCACHE, PTE_SOFTDIRTY, PTE_SWAP, PTE_UFFD_WP, VMA_DONTFORK, pte_make,
                                   pte_page)
from modelcheck.cow.mechanisms.faults import vma_writable
from modelcheck.cow.mechanisms.ghost import clear_write_protect_request, forget_writes, record_write
from modelcheck.cow.mechanisms.memory import folio_pages, is_anon, new_folio, other_holders, release
from modelcheck.cow.mechanisms.thp import PMD_SPLIT_BY_VMA, split_part_of_pmd
from modelcheck.cow.mechanisms.tlb import flush_address
from modelcheck.cow.registry import Branch, operation, outcome


class Rearranging(Branch):
    MREMAP = outcome("mremap")
    MREMAP_EFAULT = outcome("mremap_efault", "nothing is mapped at the old address: mremap fails (EFAULT) and "
                                             "changes nothing")
    DONTNEED = outcome("dontneed")
    DOFORK = outcome("dofork")
    PMD_SPLIT = PMD_SPLIT_BY_VMA
    COLLAPSE = ("collapse", "MADV_COLLAPSE copies the range's pages into a new THP, mapped by a PMD and exclusive "
                "(collapse_huge_page)")
    COLLAPSE_FAILED = outcome("collapse_failed", "MADV_COLLAPSE fails (EAGAIN): a PTE of the range maps no anonymous "
                                                 "page, or a folio holds a reference that is no mapping")
    COLLAPSE_MAPPED = outcome("collapse_mapped", "MADV_COLLAPSE finds the range mapped by a PMD already")
    COLLAPSE_EINVAL = outcome("collapse_einval", "there is no MADV_COLLAPSE before 7d8faaf15545 (v6.1): EINVAL, "
                                                 "nothing changes ({policy})")


@operation("mremap aN aK", Rearranging, summary="mremap(MREMAP_MAYMOVE|MREMAP_FIXED) of aN's page to aK: the PTE "
           "moves with its flags and the page's exclusivity, nothing is copied, aN is unmapped",
           note="MREMAP_FIXED: aN's mapping moves to aK", needs=("vma",))
def op_mremap(k: Kernel, t: MutableSlots, proc: int, addr: int, target: int) -> str | None:
    L = k.layout
    i, j = L.pte_index(proc, addr), L.pte_index(proc, target)
    if not t[i]:
        return "mremap_efault"
    split = split_part_of_pmd(k, t, proc, addr)  # (moving part of the PMD's range splits it)
    pte = t[i]
    old = t[j]
    if old:  # MREMAP_FIXED unmaps the destination first
        t[j] = 0
        release(k, t, pte_page(old))
    t[j] = pte | (PTE_SOFTDIRTY if k.soft_dirty_on else 0)
    t[i] = 0
    M = L.addresses
    t[L.vma_base + proc * M + target] = t[L.vma_base + proc * M + addr]  # the VMA moves with it
    f = L.features
    if f.last_write:
        for cell in range(f.cells):
            record_write(k, t, proc, target, t[L.last_index(proc, addr, cell)], cell)
        forget_writes(k, t, proc, addr)
    if f.write_protect:
        t[L.wp_base + proc * M + target] = t[L.wp_base + proc * M + addr]
        clear_write_protect_request(k, t, proc, addr)
    flush_address(k, t, proc, addr)
    flush_address(k, t, proc, target)
    return split + "mremap"


@operation("dontneed aN", Rearranging, summary="madvise(MADV_DONTNEED): the PTE is zapped and its reference dropped; "
           "the VMA stays, so the next access faults a fresh page (the zero page, the file's page) in",
           note="MADV_DONTNEED",
           unpopulates=True)
def op_dontneed(k: Kernel, t: MutableSlots, proc: int, addr: int) -> str | None:
    L = k.layout
    i = L.pte_index(proc, addr)
    pte = t[i]
    if pte:
        t[i] = 0
        release(k, t, pte_page(pte))  # the zero page needs none
        flush_address(k, t, proc, addr)
    if L.features.last_write:  # what the owner reads there now: zeros, the initial contents, or the file's
        for cell in range(L.features.cells):
            now = t[L.value_index(k.file_page, cell)] if addr in k.file_maps else k.tags.code(0, 0)
            record_write(k, t, proc, addr, now, cell)
    return "dontneed"


@operation("dofork aN", Rearranging, summary="madvise(MADV_DOFORK): fork copies the range again", note="MADV_DOFORK",
           needs=("vma",))
def op_dofork(k: Kernel, t: MutableSlots, proc: int, addr: int) -> str | None:
    L = k.layout
    split = split_part_of_pmd(k, t, proc, addr)
    t[L.vma_base + proc * L.addresses + addr] &= ~VMA_DONTFORK
    return split + "dofork"


@operation("collapse_thp aN", Rearranging, summary="madvise(MADV_COLLAPSE) of the THP's range (aN is any address in "
           "it): its pages copied into a new THP this process maps by a PMD", note="MADV_COLLAPSE, v6.1",
           needs=("vma",))
def op_collapse_thp(k: Kernel, t: MutableSlots, proc: int, addr: int) -> str | None:
    """madvise_collapse, collapse_huge_page (the 7.1.5 tree's mm/khugepaged.c) for the caller: every PTE of the
    range must map an anonymous page without a uffd-wp bit, whose folio holds no reference but its mappings and
    the swap cache (folio_expected_ref_count: a GUP pin fails it); a page other processes map too is no obstacle
    (max_ptes_shared binds khugepaged only). The contents are copied into a new folio, mapped by a PMD, writable
    where the VMA is, exclusive (folio_add_new_anon_rmap); the old pages lose this process's mappings."""
    L = k.layout
    thp = L.features.thp
    if not k.policy.madvise_collapse:
        return "collapse_einval"
    if t[L.pmd_base + proc]:
        return "collapse_mapped"  # (SCAN_PMD_MAPPED: success)
    ptes = [t[L.pte_index(proc, a)] for a in range(thp)]
    if any(not pte or pte & (PTE_SWAP | PTE_UFFD_WP) or not is_anon(k, pte_page(pte)) for pte in ptes):
        return "collapse_failed"
    for g in {page for pte in ptes for page in folio_pages(k, t, pte_page(pte))}:
        if other_holders(k, t, g) != (1 if k.swap_on and t[L.flags_base + g] & PAGE_SWAPCACHE else 0):
            return "collapse_failed"
    soft_dirty = PTE_SOFTDIRTY if k.soft_dirty_on else 0
    for a, (pte, page) in enumerate(zip(ptes, new_folio(k, t, [pte_page(pte) for pte in ptes]))):
        t[L.pte_index(proc, a)] = pte_make(page, vma_writable(k, t, proc, a), soft_dirty)
        release(k, t, pte_page(pte))
    t[L.pmd_base + proc] = 1
    return "collapse"
