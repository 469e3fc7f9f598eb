"""UFFDIO_MOVE (adef440691ba, v6.8): a page moved from one address to another of the same mm, without a copy.

Read in the 7.1.5 tree (mm/userfaultfd.c, move_pages and move_pages_pte). Both VMAs must be private anonymous,
writable and alike (validate_move_areas: -EINVAL), the destination registered with the userfaultfd (the
operation registers it for the move and unregisters it after, so a later access there faults as in any VMA
rather than waiting for a handler), its PTE empty (-EEXIST), the source PTE present or a swap entry
(-ENOENT for a hole). The shared zero page is moved as it is (move_zeropage_pte). An anonymous page moves only if
the policy lets it (``uffdio_move_refuses``: the kernel's answer is -EBUSY for a page that is not
PageAnonExclusive, or may be pinned, which move_present_ptes checks again once the source PTE is cleared); it
then leaves the source address and is mapped at the destination writable, dirty and soft-dirty, with its
anon_vma moved to the destination VMA (folio_move_anon_rmap), and the source TLB entry flushed. A swap entry
moves if its swap PTE keeps the exclusive bit (else -EBUSY), the swap-cache page's rmap moved with it. The
source address is left empty in its VMA: the next access there faults a fresh page (or the zero page) in.

Before 6.8 the ioctl does not exist (the policy's ``uffdio_move`` flag): it fails and nothing changes.
"""

from __future__ import annotations

from modelcheck.cow.kernel import Kernel, MutableSlots
from modelcheck.cow.layout import PTE_SOFTDIRTY, PTE_SWAP, PTE_SWAP_EXCLUSIVE, PTE_WRITE, VMA_WRITE, pte_page
from modelcheck.cow.mechanisms.ghost import clear_write_protect_request, record_write
from modelcheck.cow.mechanisms.memory import info
from modelcheck.cow.mechanisms.tlb import flush_address
from modelcheck.cow.registry import Branch, operation, outcome


class Moving(Branch):
    MOVE = outcome("uffd_move")
    MOVE_ZERO = outcome("uffd_move_zero", "the shared zero page's PTE is moved as it is (move_zeropage_pte)")
    MOVE_SWAP = outcome("uffd_move_swap", "the exclusive swap entry is moved as it is (move_swap_pte)")
    MOVE_BUSY = ("uffd_move_busy", "UFFDIO_MOVE fails with EBUSY: the page is not exclusive to this mm, or may be "
                                   "pinned ({policy})")
    MOVE_REFUSED = outcome("uffd_move_refused", "UFFDIO_MOVE fails and changes nothing: no such ioctl (before 6.8), "
                                                "a hole at the source (ENOENT), a mapped destination (EEXIST) or "
                                                "VMAs unlike or read-only (EINVAL) ({policy})")


@operation("uffd_move aN aK", Moving, summary="UFFDIO_MOVE of aN's page to the empty aK of the same mm (registered "
           "for the move): an exclusive, unpinned anonymous page moves without a copy (v6.8), anything else fails",
           note="UFFDIO_MOVE", needs=("vma",), unpopulates=True)
def op_uffd_move(k: Kernel, t: MutableSlots, proc: int, addr: int, target: int) -> str | None:
    L = k.layout
    M = L.addresses
    i, j = L.pte_index(proc, addr), L.pte_index(proc, target)
    pte = t[i]
    src_vma, dst_vma = t[L.vma_base + proc * M + addr], t[L.vma_base + proc * M + target]
    if (not k.policy.uffdio_move or not pte or t[j] or not src_vma & VMA_WRITE
            or (src_vma & VMA_WRITE) != (dst_vma & VMA_WRITE)):
        return "uffd_move_refused"
    page = pte_page(pte)
    if pte & PTE_SWAP:
        if not pte & PTE_SWAP_EXCLUSIVE:
            return "uffd_move_busy"
        branch, moved = "uffd_move_swap", pte | (PTE_SOFTDIRTY if k.soft_dirty_on else 0)
    elif page == k.zero_page:
        branch, moved = "uffd_move_zero", pte
    else:
        page_info = info(k, t, page, proc)
        if page_info.locked:  # folio_trylock failed: it sleeps in folio_lock and tries again
            return None
        if k.policy.uffdio_move_refuses(page_info):
            return "uffd_move_busy"
        branch, moved = "uffd_move", pte | PTE_WRITE | (PTE_SOFTDIRTY if k.soft_dirty_on else 0)
    t[i] = 0
    flush_address(k, t, proc, addr)
    t[j] = moved
    f = L.features
    if f.last_write:  # the contents move; the source reads zeros from now on
        for cell in range(f.cells):
            record_write(k, t, proc, target, t[L.last_index(proc, addr, cell)], cell)
            record_write(k, t, proc, addr, k.tags.code(0, 0), cell)
    clear_write_protect_request(k, t, proc, addr)
    return branch

