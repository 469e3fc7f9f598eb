"""``gup_cow_break``: v5.8, and direction D of the January 2021 debate.

Direction D of David Hildenbrand's summary (S1, 15 Jan 2021) is exactly this
era: keep mapcount-based reuse and let GUP force the COW break. Side effects of
the forced break: a read-only GUP now write-faults, so a uffd-wp'ed page raises
a userfault for a mere read (umap, O15), and the zero page and read-only file
mappings get copied.
"""

from modelcheck.cow.policies.base import GupFirst, GupRequest, PageInfo
from modelcheck.cow.policies.mapcount import Pre2020Rule
from modelcheck.cow.policies.pieces import commit, era


@commit("17839856fd58", "gup: document and work around \"COW can break either way\" issue", "v5.8",
        "every GUP that returns pages write-faults a R/O PTE first, reads too")
class ForcedCowBreakInGup(Pre2020Rule):
    """Linus Torvalds, v5.8-rc1 (and 5.7.3 and later stable trees): in a COW mapping every GUP that
    returns pages, FOLL_GET or FOLL_PIN, read or write, is treated as FOLL_WRITE, so the COW is broken at
    GUP time and the reference is to a page private to the caller's mm. The fault path keeps the mapcount
    rule (predicates-check §2). Only in a COW mapping (should_force_cow_break tests is_cow_mapping): a
    MAP_SHARED mapping has nothing to break."""

    def gup(self, request: GupRequest, page: PageInfo) -> GupFirst:
        if not request.pte_writable and request.cow_mapping:
            return GupFirst.WRITE_FAULT
        return super().gup(request, page)


GupCowBreakPolicy = era("gup_cow_break", "v5.8", Pre2020Rule, [ForcedCowBreakInGup],
                        summary="mapcount reuse; every GUP in a COW mapping breaks COW first (direction D)")
POLICY = GupCowBreakPolicy()
