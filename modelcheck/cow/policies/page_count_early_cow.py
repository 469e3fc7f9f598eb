"""``page_count_early_cow``: v5.9 final and v5.10, the page_count rule and fork's early copy of pinned pages.

fork copies a page that may be pinned for the child (70e806e4e645), but nothing yet keeps GUP-fast from
pinning a page between fork's check of it and its write-protection: write_protect_seq (57efa1fe5957) came
in v5.11 (and to 5.10.y as a backport; this is 5.10 as released).
"""

from modelcheck.cow.policies.base import ForkPage, PageInfo
from modelcheck.cow.policies.mapcount import Pre2020Rule
from modelcheck.cow.policies.page_count import PageCountPolicy
from modelcheck.cow.policies.pieces import commit, era


@commit("70e806e4e645", "mm: Do early cow for pinned pages during fork() for ptes", "v5.9",
        "fork copies a maybe-pinned page if the mm has pinned", also=("008cfe4418b3",))
class EarlyCowForPinnedPages(Pre2020Rule):
    """Peter Xu, on Linus's idea (S20): when the parent's mm has ever FOLL_PIN'ed (mm->has_pinned, from
    008cfe4418b3 "mm: Introduce mm_struct.has_pinned", which decides nothing by itself) and
    page_maybe_dma_pinned() says the page may be pinned, copy_present_pte copies it for the child now
    (child PTE writable if VM_WRITE) and leaves the parent's PTE writable on the pinned page."""

    def fork_page(self, page: PageInfo) -> ForkPage:
        if page.has_pinned and page.maybe_dma_pinned:
            return ForkPage.COPY
        return super().fork_page(page)


@commit("d042035eaf5f", "mm/thp: Split huge pmds/puds if they're pinned when fork()", "v5.9",
        "fork splits a maybe-pinned PMD-mapped THP and copies its pages for the child")
class SplitPinnedHugePmdsAtFork(Pre2020Rule):
    """Peter Xu, the PMD half of 70e806e4e645's series (the 5.9.1 tree, copy_huge_pmd): when the mm has
    pinned and the THP may be pinned (its exact pincount), fork splits the parent's PMD and copies at PTE
    level, where copy_present_page sees every page of the folio as maybe pinned (the folio's pincount) and
    copies each for the child."""

    def fork_huge(self, page: PageInfo) -> ForkPage:
        if page.has_pinned and page.maybe_dma_pinned:
            return ForkPage.COPY
        return super().fork_huge(page)


PageCountEarlyCowPolicy = era("page_count_early_cow", "v5.9-v5.10", PageCountPolicy,
                              [EarlyCowForPinnedPages, SplitPinnedHugePmdsAtFork],
                       summary="page_count reuse; fork copies maybe-pinned pages (GUP-fast not yet kept out of fork)")
POLICY = PageCountEarlyCowPolicy()
