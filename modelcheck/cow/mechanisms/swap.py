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

from modelcheck.cow.layout import (PAGE_EXCLUSIVE, PAGE_SWAPCACHE, PTE_SOFTDIRTY, PTE_SWAP, PTE_SWAP_EXCLUSIVE,
                                   PTE_UFFD_WP, pte_make, pte_page, swap_entry)


class Swap:
    """Mixed into ``CowModel``."""

    def op_swap_add(self, t: list[int], page: int) -> str | None:
        """add_to_swap: a mapped anonymous page not yet in the swap cache goes in (unless the policy keeps it)."""
        L = self.layout
        if t[L.flags_base + page] & PAGE_SWAPCACHE or not self.mapcount(t, page):
            return None
        if self.policy.reclaim_skips(self.info(t, page)):
            return None
        t[L.flags_base + page] |= PAGE_SWAPCACHE
        return "swap_add"

    def op_swap_unmap(self, t: list[int], page: int) -> str | None:
        """try_to_unmap: every PTE of the swap-cache page becomes a swap PTE, flushed at once."""
        L = self.layout
        if not t[L.flags_base + page] & PAGE_SWAPCACHE or not self.mapcount(t, page):
            return None
        info = self.info(t, page)
        if self.policy.unmap_refuses(info):
            return None
        exclusive = info.exclusive
        for p in range(t[0] + 1):
            for a in range(L.addresses):
                k = L.pte_index(p, a)
                pte = t[k]
                if pte and not pte & PTE_SWAP and pte_page(pte) == page:
                    t[k] = swap_entry(page, exclusive, pte)
                    self.flush_address(t, p, a)
        t[L.flags_base + page] &= ~PAGE_EXCLUSIVE
        return "swap_unmap"

    def op_pageout(self, t: list[int], proc: int, addr: int) -> str | None:
        """madvise(MADV_PAGEOUT): reclaim the page now if only this process maps it."""
        pte = t[self.layout.pte_index(proc, addr)]
        if not pte:
            return None
        if pte & PTE_SWAP:
            return "pageout_nothing"
        page = pte_page(pte)
        if self.mapcount(t, page) != 1 or self.op_swap_add(t, page) is None:
            return "pageout_skipped"
        return "pageout" if self.op_swap_unmap(t, page) else "pageout_added"

    def swap_in(self, t: list[int], proc: int, addr: int, write: bool) -> str:
        """do_swap_page: map the swap-cache page again; on a write fault, writable at once if the era allows."""
        L = self.layout
        k = L.pte_index(proc, addr)
        pte = t[k]
        page = pte_page(pte)
        swap_exclusive = bool(pte & PTE_SWAP_EXCLUSIVE)
        flags = pte & (PTE_SOFTDIRTY | PTE_UFFD_WP)
        if write and not pte & PTE_UFFD_WP and self.policy.swapin_reuse(self.info(t, page, proc), swap_exclusive):
            soft_dirty = PTE_SOFTDIRTY if self._pte_flag_bits else 0
            t[k] = pte_make(page, self.vma_writable(t, proc, addr), flags | soft_dirty)
            self.set_exclusive(t, page, True)
            if not self.swapcount(t, page):  # try_to_free_swap: the slot is no longer needed
                t[L.flags_base + page] &= ~PAGE_SWAPCACHE
            self.clear_write_protect_request(t, proc, addr)
            return "swapin_reuse"
        t[k] = pte_make(page, False, flags)
        if swap_exclusive:
            self.set_exclusive(t, page, True)
        return "swapin"

    def drop_swap_entry(self, t: list[int], k: int) -> None:
        """A swap PTE goes (munmap, exit): the swap count drops; the page may leave the swap cache."""
        page = pte_page(t[k])
        t[k] = 0
        self.release(t, page)
