"""``mm_owner_6_15``: v6.15 on, COW reuse of a PTE-mapped large folio its MM owns alone.

David Hildenbrand's series (the 6.15 merge window): each large folio records in two slots which MMs map it
and how often, and a "maybe mapped shared" bit (6af8cb80d3a9; the algorithm in include/linux/rmap.h of the
7.1.5 tree, ``thp.OwnerSlots``); do_wp_page then reuses a page of a large folio that is not exclusive when
the folio is mapped more than once, is not maybe-shared, and its large mapcount equals its refcount (every
reference is a mapping of this MM), rechecked under the large mapcount's lock (1da190f4d0a6). The bit is
cleared only when one slot holds every mapping: with three MMs it can stay set after only one still maps the
folio, a false positive that copies (safe, spurious).
"""

from modelcheck.cow.policies.base import PageInfo, WriteFault
from modelcheck.cow.policies.large_folio_6_9 import LargeFolio69Policy
from modelcheck.cow.policies.mapcount import Pre2020Rule
from modelcheck.cow.policies.pieces import commit, era


@commit("6af8cb80d3a9", "mm/rmap: basic MM owner tracking for large folios (!hugetlb)", "v6.15",
        "a large folio tracks the MMs that map it in two slots and a maybe-shared bit")
class MmOwnerTracking(Pre2020Rule):
    """Every map and unmap of a large folio updates its MM-owner slots and bit (folio_add_return_large_mapcount,
    folio_sub_return_large_mapcount), under a bit spinlock in the folio."""

    tracks_mm_owners = True


@commit("1da190f4d0a6", "mm: Copy-on-Write (COW) reuse support for PTE-mapped THP", "v6.15",
        "reuse a page of a large folio mapped only by this MM: large mapcount = refcount, not maybe-shared")
class ReuseLargeFoliosOwnedAlone(Pre2020Rule):
    """__wp_can_reuse_large_anon_folio (7.1.5 tree, mm/memory.c): copy a folio mapped at most once (to free
    it up) or maybe mapped shared; else reuse iff its large mapcount equals its refcount, as read again under
    folio_lock_large_mapcount (the world decides in one step, so both reads agree). Only this PTE becomes
    writable; the page is marked exclusive."""

    def write_fault(self, page: PageInfo) -> WriteFault:
        if page.large and not page.exclusive and not page.ksm:
            if page.large_mapcount > 1 and not page.maybe_shared and page.large_mapcount == page.refcount:
                return WriteFault.REUSE
            return WriteFault.COPY
        return super().write_fault(page)


MmOwner615Policy = era("mm_owner_6_15", "v6.15", LargeFolio69Policy, [MmOwnerTracking, ReuseLargeFoliosOwnedAlone],
                       summary="large_folio_6_9, and a large folio mapped only by this MM (MM-owner tracking) is "
                               "reused")
POLICY = MmOwner615Policy()
