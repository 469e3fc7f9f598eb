"""``gup_cow_break``: v5.8, and direction D of the January 2021 debate.

Direction D of David Hildenbrand's summary (S1, 15 Jan 2021) is exactly this
era: keep mapcount-based reuse and let GUP force the COW break. Side effects of
the forced break: a read-only GUP now write-faults, so a uffd-wp'ed page raises
a userfault for a mere read (umap, O15), and the zero page and read-only file
mappings get copied.
"""

from modelcheck.cow.policies.base import GupFirst, GupRequest, HugeWriteFault, PageInfo
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


@commit("3917c80280c9", "thp: change CoW semantics for anon-THP", "v5.8",
        "a PMD-mapped THP that cannot be reused is split, and the one page COWed, not copied whole")
class ThpCowSplits(Pre2020Rule):
    """Kirill A. Shutemov: do_huge_pmd_wp_page keeps its reuse test (reuse_swap_page) but no longer copies
    the whole huge page: it splits the PMD and returns VM_FAULT_FALLBACK, and the fault is retried on the
    PTE of the one page written (the 5.8.1 tree; anonymous THP now COWs as file THP does)."""

    def huge_write_fault(self, page: PageInfo) -> HugeWriteFault:
        decision = super().huge_write_fault(page)
        return HugeWriteFault.SPLIT if decision is HugeWriteFault.COPY else decision


@commit("c444eb564fb1", "mm: thp: make the THP mapcount atomic against __split_huge_pmd_locked()", "v5.8",
        "splitting a THP's PMD waits for the page lock, under which a write fault reads the THP's mapcounts")
class SplitTakesThpPageLock(Pre2020Rule):
    """Andrea Arcangeli (CVE-2020-29368, reported by Jann Horn; Fixes 6d0a07edd17c): reuse_swap_page reads
    page_trans_huge_mapcount, a sum of the pages' mapcounts, the DoubleMap flag and the compound mapcount,
    under the page lock, while __split_huge_pmd_locked in another mm moved the compound count into the pages'
    under only that mm's PMD lock: the sum could come out too low, and a still shared THP was reused. The fix
    makes __split_huge_pmd take the page lock (in the 5.7.14, 5.8.1 and 5.9.1 trees; 5.7.5 has it as a
    backport). 7f7609175ff2 (v5.18) took the lock out again once no COW decision read those mapcounts
    (3bff7e3f1f16): the world keeps it, which changes nothing from then on."""

    thp_split_locks_page = True


GupCowBreakPolicy = era("gup_cow_break", "v5.8", Pre2020Rule,
                        [ForcedCowBreakInGup, ThpCowSplits, SplitTakesThpPageLock],
                        summary="mapcount reuse; every GUP in a COW mapping breaks COW first (direction D)")
POLICY = GupCowBreakPolicy()
