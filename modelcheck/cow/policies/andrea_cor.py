"""``andrea_cor``: direction C, Andrea Arcangeli's proposal (Jan 2021, never merged).

His revert of the do_wp_page simplification, on top of the v5.9 tree with
fork's early copy of pinned pages (70e806e4e645, already merged, which he
kept), and the copy-on-read his tree put in place of the forced COW break in
GUP.
"""

from modelcheck.cow.policies.base import GupRequest, PageInfo, Unshare
from modelcheck.cow.policies.mapcount import Pre2020Rule
from modelcheck.cow.policies.page_count import DoWpPageSimplification, PageCountPolicy
from modelcheck.cow.policies.page_count_fork_copy import EarlyCowForPinnedPages
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
    private copy; a page mapped once is kept."""

    def read_gup_unshares(self, request: GupRequest, page: PageInfo) -> bool:
        return page.mapcount > 1

    def unshare(self, page: PageInfo) -> Unshare:
        return Unshare.COPY if page.mapcount > 1 else Unshare.KEEP


AndreaCorPolicy = era("andrea_cor", "proposal, Jan 2021", PageCountPolicy,
                      [EarlyCowForPinnedPages, RestoreFullAccuracy, CopyOnReadForReadGup],
                      summary="direction C: mapcount reuse plus copy-on-read unsharing for read GUP of shared pages")
POLICY = AndreaCorPolicy()
