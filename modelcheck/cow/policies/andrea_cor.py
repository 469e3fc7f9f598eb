"""``andrea_cor``: direction C, Andrea Arcangeli's proposal (Jan 2021, never merged).

His revert of the do_wp_page simplification, on top of the v5.9 tree with
fork's early copy of pinned pages (70e806e4e645 and its PMD half
d042035eaf5f, already merged, which he kept), and the copy-on-read his tree
put in place of the forced COW break in GUP.
"""

from modelcheck.cow.policies.base import GupRequest, PageInfo, Unshare
from modelcheck.cow.policies.mapcount import Pre2020Rule
from modelcheck.cow.policies.page_count import DoWpPageSimplification, PageCountPolicy
from modelcheck.cow.policies.page_count_early_cow import EarlyCowForPinnedPages, SplitPinnedHugePmdsAtFork
from modelcheck.cow.policies.pieces import era, proposal


@proposal("mm: restore full accuracy in COW page reuse", "S3", "9 Jan 2021",
          "reuse on mapcount + swap count under the page lock",
          reverts=DoWpPageSimplification)
class RestoreFullAccuracy(Pre2020Rule):
    """S2/S3: reverts 09854ba94c6a (and its KSM and counter follow-ups be068f29034f, 1a0cf26323c8), so a
    page mapped once is never copied just because of extra references."""


@proposal("mm: gup: COR: copy-on-read fault", "S34", "Jan 2021",
          "a read GUP of a page mapped more than once copies it first (R/O)")
class CopyOnReadForReadGup(Pre2020Rule):
    """aa.git branch mapcount_deshare (S34; a series of commits, no mainline id): any read GUP, FOLL_GET or
    FOLL_PIN, of an anonymous page mapped more than once takes an unsharing fault that gives the caller a
    private copy; a page mapped once is kept.

    The test counts the mappings only, not the swap count that the reuse rule (``RestoreFullAccuracy``,
    mapcount plus swap count) adds: in the series as the aa.git push mails of 2021 list it (mapcount_deshare,
    25 May and 8 Sep 2021; main-5.10.y, 10 May and 27 Sep 2021), the read-GUP test is "mm: gup:
    gup_page_unshare()" / "mm: gup: gup_must_unshare()", built on the mapcount helpers the series adds just
    before ("mm: thp: introduce page_trans_huge_anon_shared", "... irqsafe methods to check if anonymous pages
    are shared"). Only the main-5.15.y push of 25 Jan 2022 has a later commit, 639ab322c8a7 "mm: gup:
    gup_must_unshare() use can_read_pin_swap_page()", that moves the test to a helper which, by its name and
    by 143fc197abb1 (which gives it the PageKsm handling), is the read-pin twin of reuse_swap_page: from there
    on the swap count is counted too [I: titles and one message read, not the code]. This policy is the
    January 2021 proposal, so it keeps the mapcount test; C12a stays violated under it (the child's vmsplice
    finds the page mapped once, the parent's mapping being a swap entry, keeps it, and the parent's swap-in
    write reuses it on mapcount plus swap count 1). Counting the swap count in both this test and the
    unsharing fault makes C12a hold (tests/test_policies.py checks it): what the 2022 revision would change."""

    def read_gup_unshares(self, request: GupRequest, page: PageInfo) -> bool:
        """(Anonymous pages only, as the series' test is named and built: the zero page and page-cache pages
        of private file mappings are taken as mapped.)"""
        return page.anon and page.mapcount > 1

    def unshare(self, page: PageInfo) -> Unshare:
        return Unshare.COPY if page.mapcount > 1 else Unshare.KEEP


AndreaCorPolicy = era("andrea_cor", "proposal, Jan 2021", PageCountPolicy,
                      [EarlyCowForPinnedPages, SplitPinnedHugePmdsAtFork, RestoreFullAccuracy,
                       CopyOnReadForReadGup],
                      summary="direction C: mapcount reuse plus copy-on-read unsharing for read GUP of shared pages")
POLICY = AndreaCorPolicy()
