"""``andrea_cor``: direction C, Andrea Arcangeli's proposal (Jan 2021, never merged).

"[PATCH 0/1] mm: restore full accuracy in COW page reuse" reverted 09854ba94c6a
(and its KSM and counter follow-ups) back to reuse on mapcount (plus swap count)
under the page lock, whatever the refcount; fork's early copy of pinned pages
(70e806e4e645, already merged) stays. His tree then replaced the forced COW
break in GUP by copy-on-read: a read GUP (FOLL_GET or FOLL_PIN) of an
anonymous page that is mapped more than once takes an unsharing fault that
gives the caller a private copy, still mapped read-only.
"""

from modelcheck.cow.policies.base import GupRequest, PageInfo, Unshare
from modelcheck.cow.policies.mapcount import MapcountPolicy
from modelcheck.cow.policies.page_count_fork_copy import PageCountForkCopyPolicy


class AndreaCorPolicy(MapcountPolicy):
    name = "andrea_cor"
    release = "proposal, Jan 2021"
    commits = ()
    summary = "direction C: mapcount reuse plus copy-on-read unsharing for read GUP of shared pages"

    fork_page = PageCountForkCopyPolicy.fork_page  # 70e806e4e645, which his revert kept

    def read_gup_unshares(self, request: GupRequest, page: PageInfo) -> bool:
        """Copy-on-read: any read GUP (FOLL_GET or FOLL_PIN) of a page mapped more than once."""
        return page.mapcount > 1

    def unshare(self, page: PageInfo) -> Unshare:
        return Unshare.COPY if page.mapcount > 1 else Unshare.KEEP


POLICY = AndreaCorPolicy()
