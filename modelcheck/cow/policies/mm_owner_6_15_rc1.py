"""``mm_owner_6_15_rc1``: v6.15-rc1, COW reuse of a PTE-mapped large folio its MM owns alone, as first merged.

David Hildenbrand's series (the 6.15 merge window): each large folio records in two slots which MMs map it
and how often, and a "maybe mapped shared" bit (6af8cb80d3a9; the algorithm in include/linux/rmap.h of the
7.1.5 tree, ``thp.OwnerSlots``); do_wp_page then reuses a page of a large folio that is not exclusive when
the folio is mapped more than once, is not maybe-shared, and its large mapcount equals its refcount (every
reference is a mapping of this MM), rechecked under the large mapcount's lock (1da190f4d0a6). The bit is
cleared only when one slot holds every mapping: with three MMs it can stay set after only one still maps the
folio, a false positive that copies (safe, spurious).

As merged, the reuse check asserted two things it had not made stable yet, and one the wrong way round; both
were fixed before v6.15 (``mm_owner_6_15``), so this stands for no release of its own. Its assertions as
1da190f4d0a6 added them are read in the diff of that commit; the fixed ones in the 7.1.5 tree.
"""

from modelcheck.cow.policies.base import KernelWarning, LargeLook, PageInfo, WriteFault
from modelcheck.cow.policies.huge_zero_thp_6_13 import HugeZeroThp613Policy
from modelcheck.cow.policies.mapcount import Pre2020Rule
from modelcheck.cow.policies.pieces import commit, era


@commit("6af8cb80d3a9", "mm/rmap: basic MM owner tracking for large folios (!hugetlb)", "v6.15",
        "a large folio tracks the MMs that map it in two slots and a maybe-shared bit")
class MmOwnerTracking(Pre2020Rule):
    """Every map and unmap of a large folio updates its MM-owner slots and bit (folio_add_return_large_mapcount,
    folio_sub_return_large_mapcount), under a bit spinlock in the folio."""

    tracks_mm_owners = True


def sanity_warnings(page: PageInfo) -> tuple[KernelWarning, ...]:
    """What __wp_can_reuse_large_anon_folio asserts of a folio it may reuse a page of: no PMD maps it any more,
    and one MM maps each of its pages at most once."""
    return tuple(w for w, fired in ((KernelWarning.MAPPED_BEYOND_PAGES, page.large_mapcount > page.nr_pages),
                                    (KernelWarning.ENTIRELY_MAPPED, page.entire_mapcount > 0)) if fired)


@commit("1da190f4d0a6", "mm: Copy-on-Write (COW) reuse support for PTE-mapped THP", "v6.15",
        "reuse a page of a large folio mapped only by this MM: large mapcount = refcount, not maybe-shared")
class ReuseLargeFoliosOwnedAlone(Pre2020Rule):
    """__wp_can_reuse_large_anon_folio: copy a folio mapped at most once (to free it up) or maybe mapped
    shared; else reuse iff its large mapcount equals its refcount, read once without a lock and again under
    folio_lock_large_mapcount, after trying to free the swap cache of a folio in it (which fails while any PTE
    is still one of its swap entries or it is under writeback, and then its references forbid the reuse). Only
    this PTE becomes writable; the page is marked exclusive. As merged, it asserted the folio's sanity before
    the lock, and under the lock that the mapcount is not below the refcount (which an extra reference makes
    it legitimately); once the recheck passes, that this MM holds one of the folio's two owner slots."""

    def write_fault(self, page: PageInfo) -> WriteFault:
        if page.large and not page.exclusive and not page.ksm:
            go, _ = self.large_reuse_unlocked(page)
            reuse, _ = self.large_reuse_locked(page)
            return WriteFault.REUSE if go and reuse else WriteFault.COPY
        return super().write_fault(page)

    def large_reuse_frees_swap(self, page: PageInfo) -> bool:
        # past the early checks, a folio in the swap cache is trylocked and its swap cache freed if it can be
        return page.in_swapcache and page.large_mapcount > 1 and not page.maybe_shared and not page.locked

    def large_reuse_unlocked(self, page: PageInfo) -> LargeLook:
        if page.large_mapcount <= 1 or page.maybe_shared:
            return False, ()
        return page.large_mapcount == page.refcount, sanity_warnings(page)

    def large_reuse_locked(self, page: PageInfo) -> LargeLook:
        warned: tuple[KernelWarning, ...] = ((KernelWarning.MAPCOUNT_BELOW_REFCOUNT,)
                                             if page.large_mapcount < page.refcount else ())
        reuse = not page.maybe_shared and page.large_mapcount == page.refcount
        if reuse and not page.holds_owner_slot:  # asserted where the reuse is decided, from the first version on
            warned += (KernelWarning.NOT_AN_OWNER,)
        return reuse, warned


MmOwner615Rc1Policy = era("mm_owner_6_15_rc1", "v6.15-rc1", HugeZeroThp613Policy,
                          [MmOwnerTracking, ReuseLargeFoliosOwnedAlone],
                          summary="huge_zero_thp_6_13, and a large folio only this MM maps is reused (as first merged)")
POLICY = MmOwner615Rc1Policy()
