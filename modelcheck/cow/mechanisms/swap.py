"""Swap: reclaim into the swap cache, swap PTEs, and the swap-in fault (do_swap_page).

The page stays in memory in the swap cache for as long as a swap PTE names
it (the on-disk copy and the swap-cache-bypassing read are not modelled), so a
swap-in always finds it there: the path on which the swap cache's reference and
the swap count decide. Reclaim is two kernel steps, as shrink_page_list does
them: add to the swap cache (the pin check of feb889fb40fa is made here,
once), then try_to_unmap every PTE (where 5.19 refuses an exclusive page that
may be pinned). MADV_PAGEOUT does both at once for a page only its caller maps.
"""

from __future__ import annotations

from modelcheck.cow.kernel import Kernel, Machine, MutableSlots, Slots
from modelcheck.cow.layout import (PAGE_EXCLUSIVE, PAGE_SWAPCACHE, PAGE_UNMAPPING, PAGE_WRITEBACK, PTE_FLAG_MASK,
                                   PTE_SOFTDIRTY, PTE_SWAP, PTE_SWAP_EXCLUSIVE, PTE_UFFD_WP, UNMAPPING_SHIFT,
                                   present_bits, present_flags, pte_make, pte_page, swap_entry)
from modelcheck.cow.mechanisms.faults import vma_writable
from modelcheck.cow.mechanisms.ghost import clear_write_protect_request
from modelcheck.cow.mechanisms.memory import (folio_pages, folio_refcount, free_folio_swap, free_page, info, mapcount,
                                              mm_mappings, other_holders, refcount, set_exclusive)
from modelcheck.cow.mechanisms.thp import split_pmd, sync_mm_owners
from modelcheck.cow.mechanisms.tlb import flush_address
from modelcheck.cow.registry import Branch, mechanism, operation, outcome


class Reclaim(Branch):
    SWAP_ADD = "swap_add"
    SWAP_UNMAP = "swap_unmap"
    PAGEOUT = "pageout"
    PAGEOUT_NOTHING = outcome("pageout_nothing")  # already a swap PTE
    PAGEOUT_SKIPPED = outcome("pageout_skipped")  # mapped elsewhere too, or kept out of the swap cache
    PAGEOUT_ADDED = outcome("pageout_added")      # in the swap cache, but try_to_unmap refused
    PAGEOUT_NO_SWAP = outcome("pageout_no_swap")  # a kernel without swap: reclaim cannot add the page anywhere
    PAGEOUT_THP = ("pageout_thp", "MADV_PAGEOUT reclaims the THP: every PTE of it becomes a swap entry, and its "
                   "pages come back as base pages")
    PAGEOUT_THP_CACHED = ("pageout_thp_cached", "MADV_PAGEOUT reclaims the THP: every PTE of it becomes a swap "
                          "entry, and the folio stays whole in the swap cache")
    PAGEOUT_WRITEBACK = outcome("pageout_writeback", "the folio is still being written out: shrink_folio_list "
                                                     "leaves it as it is")
    PAGEOUT_KEPT = outcome("pageout_kept", "the folio holds references besides its mappings: reclaim would leave it "
                                           "in the swap cache whole (mapped or not), which the world does not model; "
                                           "it stays mapped")


class UnmapInSteps(Branch):
    """try_to_unmap_one on an exclusive anonymous page, in the steps PageAnonExclusive's clearing protocol
    orders against GUP-fast (6c287605fd56, 088b8aa537c2): clear and flush the PTE; then try to share the page
    (folio_try_share_anon_rmap_pte), which fails if it may be pinned, and restore the PTE, or else clear the
    flag and install the swap entry."""

    SWAP_UNMAP_CLEAR = ("swap_unmap_clear", "reclaim clears and flushes the exclusive page's PTE; it checks for "
                        "pins next (PageAnonExclusive's clearing protocol)")
    SWAP_UNMAP_RESTORE = ("swap_unmap_restore", "the page may be pinned: reclaim cannot clear PageAnonExclusive, "
                          "restores the PTE and gives up ({policy})")


class SwapIn(Branch):
    """do_swap_page."""

    SWAPIN = "swapin", "swap-in fault: the swap-cache page is mapped read-only"
    SWAPIN_REUSE = "swapin_reuse", "swap-in write fault: {policy} maps the swap-cache page writable at once"
    SWAPIN_FOLIO = ("swapin_folio", "swap-in fault on a large folio in the swap cache: {policy} maps every page of "
                    "it at once, read-only")
    SWAPIN_FOLIO_REUSE = ("swapin_folio_reuse", "swap-in write fault on a large folio in the swap cache: {policy} "
                          "maps every page of it at once, writable")


@mechanism(Reclaim)
def op_swap_add(k: Kernel, t: MutableSlots, page: int) -> str | None:
    """add_to_swap: a mapped anonymous page not yet in the swap cache goes in (unless the policy keeps it)."""
    L = k.layout
    if t[L.flags_base + page] & (PAGE_SWAPCACHE | PAGE_UNMAPPING) or not mapcount(k, t, page):
        return None  # (a page that migration is unmapping is locked: shrink_folio_list's trylock fails)
    if k.policy.reclaim_skips(info(k, t, page)):
        return None
    t[L.flags_base + page] |= PAGE_SWAPCACHE
    return "swap_add"


@mechanism(Reclaim, expects=(SwapIn.SWAPIN, SwapIn.SWAPIN_REUSE))  # the swap PTEs it leaves are faulted in
def op_swap_unmap(k: Kernel, t: MutableSlots, page: int) -> str | None:
    """try_to_unmap: every PTE of the swap-cache page becomes a swap PTE, flushed at once."""
    L = k.layout
    if not t[L.flags_base + page] & PAGE_SWAPCACHE or not mapcount(k, t, page):
        return None
    if k.unmap_in_steps:
        stepped = unmap_in_steps(k, t, page)
        if stepped != "":
            return stepped
    page_info = info(k, t, page)
    if k.policy.unmap_refuses(page_info):
        return None
    exclusive = page_info.exclusive and k.swap_pte_exclusive  # without the arch bit, exclusivity is lost
    for p in range(t[0] + 1):
        for a in range(L.addresses):
            i = L.pte_index(p, a)
            pte = t[i]
            if pte and not pte & PTE_SWAP and pte_page(pte) == page:
                t[i] = swap_entry(page, exclusive, pte)
                flush_address(k, t, p, a)
    t[L.flags_base + page] &= ~PAGE_EXCLUSIVE
    return "swap_unmap"


def unmapping_pte(m: Machine, s: Slots, page: int) -> int:
    """The state index of the PTE try_to_unmap cleared for ``page`` and holds (PAGE_UNMAPPING), else 0."""
    flags = s[m.layout.flags_base + page]
    return flags >> (UNMAPPING_SHIFT + 4) if flags & PAGE_UNMAPPING else 0


@mechanism(UnmapInSteps, Reclaim)
def unmap_in_steps(k: Kernel, t: MutableSlots, page: int) -> str | None:
    """The two steps of try_to_unmap_one for an exclusive page mapped once; "" for any other page (which the
    one-step unmapping handles: no pin check is asked for it)."""
    L = k.layout
    fi = L.flags_base + page
    flags = t[fi]
    index = unmapping_pte(k, t, page)
    if index:  # the second step: try to share the page, then swap out or restore
        bits = held_pte_bits(k, t, page)
        release_hold(k, t, page)
        if k.policy.unmap_refuses(info(k, t, page)):
            t[index] = pte_make(page, bool(bits & 1), bits & ~1)  # set_pte_at: the PTE as it was
            return "swap_unmap_restore"
        t[index] = swap_entry(page, k.swap_pte_exclusive, bits)
        t[fi] &= ~PAGE_EXCLUSIVE
        p, a = divmod(index - 1, L.addresses)
        flush_address(k, t, p, a)
        return "swap_unmap"
    if not flags & PAGE_EXCLUSIVE or mapcount(k, t, page) != 1:
        return ""
    clear_and_hold(k, t, page)
    return "swap_unmap_clear"


def clear_and_hold(k: Kernel, t: MutableSlots, page: int) -> None:
    """The first step of PageAnonExclusive's clearing protocol (try_to_unmap_one, try_to_migrate_one): the one
    PTE of an exclusive page cleared and flushed (ptep_clear_flush), and held under the page-table lock in the
    page's flags (PAGE_UNMAPPING) until the second step restores it or replaces it."""
    L = k.layout
    fi = L.flags_base + page
    index = present_ptes(k, t, page)[0]
    pte = t[index]
    t[fi] |= PAGE_UNMAPPING | (present_bits(pte) | index << 4) << UNMAPPING_SHIFT
    t[index] = 0  # ptep_clear_flush
    p, a = divmod(index - 1, L.addresses)
    flush_address(k, t, p, a)


def present_ptes(m: Machine, s: Slots, page: int) -> list[int]:
    """The state indices of the present PTEs that map ``page`` (the live processes')."""
    L = m.layout
    return [L.pte_index(p, a) for p in range(s[0] + 1) for a in range(L.addresses)
            if (c := s[L.pte_index(p, a)]) and not c & PTE_SWAP and pte_page(c) == page]


def held_pte_bits(m: Machine, s: Slots, page: int) -> int:
    """The flag bits of the PTE ``clear_and_hold`` holds for ``page``, as a PTE has them."""
    return present_flags(s[m.layout.flags_base + page] >> UNMAPPING_SHIFT & 15)


def release_hold(m: Machine, t: MutableSlots, page: int) -> None:
    """The page-table lock's hold of the cleared PTE ends (what the PTE becomes is the caller's)."""
    fi = m.layout.flags_base + page
    t[fi] = t[fi] & ((1 << UNMAPPING_SHIFT) - 1) & ~PAGE_UNMAPPING


@operation("pageout aN", Reclaim, summary="madvise(MADV_PAGEOUT): reclaim the page now, if only this process maps it",
           note="MADV_PAGEOUT", needs=("swap",), expects=(SwapIn.SWAPIN, SwapIn.SWAPIN_REUSE))
def op_pageout(k: Kernel, t: MutableSlots, proc: int, addr: int) -> str | None:
    """madvise(MADV_PAGEOUT): reclaim the page now if only this process maps it."""
    pte = t[k.layout.pte_index(proc, addr)]
    if not pte:
        return None
    if not k.swap_on:  # madvise succeeds; shrink_folio_list finds no swap to put an anonymous page in
        return "pageout_no_swap"
    if pte & PTE_SWAP:
        return "pageout_nothing"
    page = pte_page(pte)
    if mapcount(k, t, page) != 1 or op_swap_add(k, t, page) is None:
        return "pageout_skipped"
    return "pageout" if op_swap_unmap(k, t, page) else "pageout_added"


@mechanism(SwapIn)
def swap_in(k: Kernel, t: MutableSlots, proc: int, addr: int, write: bool) -> str:
    """do_swap_page: map the swap-cache page again; on a write fault, writable at once if the era allows."""
    L = k.layout
    i = L.pte_index(proc, addr)
    pte = t[i]
    page = pte_page(pte)
    swap_exclusive = bool(pte & PTE_SWAP_EXCLUSIVE)
    flags = pte & (PTE_SOFTDIRTY | PTE_UFFD_WP)
    if k.policy.swapin_maps_large_folio and (batch := large_folio_swap_batch(k, t, proc, addr)):
        return swap_in_folio(k, t, proc, batch, write)
    if write and not pte & PTE_UFFD_WP and k.policy.swapin_reuse(info(k, t, page, proc), swap_exclusive):
        soft_dirty = PTE_SOFTDIRTY if k.soft_dirty_on else 0
        t[i] = pte_make(page, vma_writable(k, t, proc, addr), flags | soft_dirty)
        set_exclusive(k, t, page, True)
        free_folio_swap(k, t, page)  # try_to_free_swap: the slot is no longer needed (if no swap PTE is left)
        clear_write_protect_request(k, t, proc, addr)
        return "swapin_reuse"
    t[i] = pte_make(page, read_maps_writable(k, t, proc, addr, pte), flags)
    if swap_exclusive:
        set_exclusive(k, t, page, True)
    if k.folios_on and t[L.folio_base + page]:
        sync_mm_owners(k, t)  # a page of a large folio: a write fault on it may come next, in this step
    return "swapin"


def read_maps_writable(k: Kernel, t: Slots, proc: int, addr: int, pte: int) -> bool:
    """A read fault on the swap entry ``pte`` maps its page writable (c18160dba5ff): the entry is exclusive, the
    VMA writable, and neither uffd-wp nor soft-dirty tracking wants a write fault (the entry is soft-dirty, or
    the kernel tracks none)."""
    return (k.policy.swapin_read_maps_exclusive_writable and bool(pte & PTE_SWAP_EXCLUSIVE)
            and not pte & PTE_UFFD_WP and (not k.soft_dirty_on or bool(pte & PTE_SOFTDIRTY))
            and vma_writable(k, t, proc, addr))


def large_folio_swap_batch(k: Kernel, t: Slots, proc: int, addr: int) -> tuple[tuple[int, int], ...]:
    """The (address, page) of every page of the large swap-cache folio whose swap entry ``addr`` holds, if the
    folio's whole range in ``proc`` holds its swap entries in order, each with the faulting entry's bits
    (do_swap_page's swap_pte_batch check, 508758960b8d); else () and only the faulting page is mapped."""
    L = k.layout
    pte = t[L.pte_index(proc, addr)]
    page = pte_page(pte)
    if not k.folios_on or not t[L.folio_base + page] or not t[L.flags_base + page] & PAGE_SWAPCACHE:
        return ()
    pages = folio_pages(k, t, page)
    start = addr - pages.index(page)
    if start < 0 or start + len(pages) > L.addresses:
        return ()
    batch = tuple((start + n, g) for n, g in enumerate(pages))
    bits = pte & PTE_FLAG_MASK
    if any(t[L.pte_index(proc, a)] != swap_entry(g, bool(bits & PTE_SWAP_EXCLUSIVE), bits) for a, g in batch):
        return ()
    return batch


def swap_in_folio(k: Kernel, t: MutableSlots, proc: int, batch: tuple[tuple[int, int], ...], write: bool) -> str:
    """do_swap_page mapping a whole large folio from the swap cache (set_ptes of nr_pages): exclusive if the swap
    entries are (or the folio has no other reference), writable then on a write fault; a write fault then
    frees the swap cache if nothing but the mappings and the swap cache hold the folio and no swap entry of it
    is left (should_try_to_free_swap, 4c3f96643687)."""
    L = k.layout
    addr, page = batch[0]
    pte = t[L.pte_index(proc, addr)]
    swap_exclusive = bool(pte & PTE_SWAP_EXCLUSIVE)
    flags = pte & (PTE_SOFTDIRTY | PTE_UFFD_WP)
    reuse = not pte & PTE_UFFD_WP and k.policy.swapin_reuse(info(k, t, page, proc), swap_exclusive)
    writable = write and reuse and vma_writable(k, t, proc, addr) or not write and read_maps_writable(k, t, proc, addr,
                                                                                                          pte)
    soft_dirty = PTE_SOFTDIRTY if k.soft_dirty_on and writable else 0
    for a, g in batch:
        t[L.pte_index(proc, a)] = pte_make(g, writable, flags | soft_dirty)
        if reuse:
            set_exclusive(k, t, g, True)
    sync_mm_owners(k, t)  # a write fault on the folio may come next, in this step
    if write and reuse:
        pages = tuple(g for _, g in batch)
        if folio_refcount(k, t, pages) == 2 * len(pages):  # its mappings and the swap cache's references alone
            free_folio_swap(k, t, page)
        for a, _ in batch:
            clear_write_protect_request(k, t, proc, a)
        return "swapin_folio_reuse"
    return "swapin_folio"


@operation("pageout_thp aN", Reclaim, summary="madvise(MADV_PAGEOUT) of the THP's range (aN is any address in it): "
           "the folio reclaimed if only this process maps it, its pages swapped back in as base pages",
           note="MADV_PAGEOUT of the THP", needs=("swap",), expects=(SwapIn.SWAPIN, SwapIn.SWAPIN_REUSE))
def op_pageout_thp(k: Kernel, t: MutableSlots, proc: int, addr: int) -> str | None:
    """madvise_cold_or_pageout_pte_range on the THP's range, then shrink_folio_list (the 7.1.5 tree): a folio
    another process maps too is left alone (folio_maybe_mapped_shared); one this process maps only in part is
    split (split_folio) and its mapped pages reclaimed; a whole one goes to the swap cache whole (THP_SWAP) and
    try_to_unmap with TTU_SPLIT_HUGE_PMD makes every PTE a swap entry that keeps its page's PG_anon_exclusive.
    Once written the folio is freed, and each swap-in reads a base page back; the world, whose swap cache keeps
    a page for as long as a swap PTE names it, keeps the pages there as base pages, which is where the split and
    the read-back leave them (a large folio's swap-in, zram's from 6.12, is not modelled). A folio with other
    references would stay in the swap cache whole, which is not modelled: it stays mapped (``pageout_kept``)."""
    pages, refused = thp_to_reclaim(k, t, proc)
    if refused:
        return refused
    reclaim_as_base_pages(k, t, pages)  # written and freed: from here on base pages
    return "pageout_thp"


def reclaim_as_base_pages(k: Kernel, t: MutableSlots, pages: tuple[int, ...]) -> None:
    """Split the folios of ``pages`` (split_folio frees a page nothing maps) and reclaim each page as a base
    page: into the swap cache, every PTE a swap entry."""
    L = k.layout
    for g in pages:
        t[L.folio_base + g] = 0
        if L.features.owners:
            t[L.owners_base + g] = 0
    for g in pages:
        if not refcount(k, t, g):
            free_page(k, t, g)
    for g in pages:
        if refcount(k, t, g) and op_swap_add(k, t, g):
            op_swap_unmap(k, t, g)


def thp_to_reclaim(k: Kernel, t: MutableSlots, proc: int) -> tuple[tuple[int, ...], str]:
    """MADV_PAGEOUT's walk of the THP's range: the pages it reclaims (every page of each folio ``proc`` maps
    there, its PMD split first), or the outcome that says why it reclaims none."""
    L = k.layout
    mapped = [a for a in range(L.features.thp) if (pte := t[L.pte_index(proc, a)]) and not pte & PTE_SWAP]
    if not mapped:
        return (), "pageout_nothing"
    if not k.swap_on:
        return (), "pageout_no_swap"
    pages = tuple(sorted({g for a in mapped for g in folio_pages(k, t, pte_page(t[L.pte_index(proc, a)]))}))
    if any(mm_mappings(k, t, pages, p) for p in range(L.processes) if p != proc):
        return (), "pageout_skipped"
    if any(other_holders(k, t, g) for g in pages):
        return (), "pageout_kept"
    if any(t[L.flags_base + g] & PAGE_WRITEBACK for g in pages):
        return (), "pageout_writeback"
    if t[L.pmd_base + proc]:
        split_pmd(k, t, proc)
    return pages, ""


@operation("pageout_thp_cached aN", Reclaim, summary="madvise(MADV_PAGEOUT) of the THP's range (aN is any address in "
           "it) on a swap device that writes asynchronously: the folio stays whole in the swap cache, each PTE one of "
           "its swap entries, its writeback under way", note="MADV_PAGEOUT of the THP, the folio kept in the swap "
           "cache", needs=("swap", "writeback"),
           expects=(SwapIn.SWAPIN, SwapIn.SWAPIN_REUSE, SwapIn.SWAPIN_FOLIO, SwapIn.SWAPIN_FOLIO_REUSE))
def op_pageout_thp_cached(k: Kernel, t: MutableSlots, proc: int, addr: int) -> str | None:
    """shrink_folio_list as ``pageout_thp`` runs it, on a swap device that writes asynchronously (a disk, not
    zram): add_to_swap puts the whole folio in the swap cache (nr_pages references), try_to_unmap with
    TTU_SPLIT_HUGE_PMD makes each PTE a swap entry that keeps its page's PG_anon_exclusive, and pageout() starts
    the writeback and leaves the folio in the swap cache, large, for a fault to find (the refault case of
    508758960b8d's series). The folio is under writeback (PG_writeback, which folio_free_swap respects) until
    the device is done (the kernel event ``writeback_end``, at any later moment). A folio this process maps
    only in part is split first and its pages go as base pages, as a small page (a copy) of the range does."""
    L = k.layout
    pages, refused = thp_to_reclaim(k, t, proc)
    if refused:
        return refused
    whole = {g for g in pages if t[L.folio_base + g]
             and all(mm_mappings(k, t, (h,), proc) == 1 for h in folio_pages(k, t, g))}
    reclaim_as_base_pages(k, t, tuple(g for g in pages if g not in whole))  # a small page, or a folio mapped
    for g in sorted(whole):                                                  # in part: split
        t[L.flags_base + g] |= PAGE_SWAPCACHE  # add_to_swap: the folio whole, a reference a page
    for g in sorted(whole):
        op_swap_unmap(k, t, g)  # (nothing but its mappings holds the folio: nothing refuses the unmap)
        t[L.flags_base + g] |= PAGE_WRITEBACK
    return "pageout_thp_cached"


class Writeback(Branch):
    WRITEBACK_END = outcome("writeback_end", "the swap device has written the folio out (folio_end_writeback): "
                            "its swap cache may be freed from now on")


@mechanism(Writeback)
def op_writeback_end(k: Kernel, t: MutableSlots, page: int) -> str | None:
    """The writeback ``pageout_thp_cached`` started ends, at a moment of the device's choosing: the folio of
    ``page`` (its head) is clean in the swap cache. One that nothing maps and no swap entry names any more is
    freed, as the next reclaim would free it."""
    L = k.layout
    pages = folio_pages(k, t, page)
    if pages[0] != page or not t[L.flags_base + page] & PAGE_WRITEBACK:
        return None
    for g in pages:
        t[L.flags_base + g] &= ~PAGE_WRITEBACK
    if folio_refcount(k, t, pages) == len(pages) and free_folio_swap(k, t, page):
        for g in pages:
            free_page(k, t, g)
    return "writeback_end"
