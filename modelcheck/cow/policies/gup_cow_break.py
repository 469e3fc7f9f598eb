"""``gup_cow_break``: v5.8, and direction D of the January 2021 debate.

Commit 17839856fd58 ("gup: document and work around 'COW can break either
way' issue", Linus Torvalds, v5.8-rc1; in 5.7.3 and later stable trees): in a
COW mapping every GUP that returns pages, FOLL_GET or FOLL_PIN, read or write,
is treated as FOLL_WRITE, so the COW is broken at GUP time and the reference
is to a page private to the caller's mm. The fault path keeps the mapcount
rule. Side effects: a read-only GUP now write-faults, so a uffd-wp'ed page
raises a userfault for a mere read (umap, O15), and the zero page and
read-only file mappings get copied.

Direction D of David Hildenbrand's summary (15 Jan 2021) is exactly this:
revert to mapcount-based reuse and let GUP force the break.
"""

from modelcheck.cow.policies.base import GupFirst, GupRequest, PageInfo
from modelcheck.cow.policies.mapcount import MapcountPolicy


class GupCowBreakPolicy(MapcountPolicy):
    name = "gup_cow_break"
    release = "v5.8"
    commits = ("17839856fd58",)
    summary = "mapcount reuse; every GUP in a COW mapping breaks COW first (direction D)"

    def gup(self, request: GupRequest, page: PageInfo) -> GupFirst:
        if not request.pte_writable:
            return GupFirst.WRITE_FAULT
        return GupFirst.NOTHING


POLICY = GupCowBreakPolicy()
