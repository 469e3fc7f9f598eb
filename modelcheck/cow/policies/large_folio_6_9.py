"""``large_folio_6_9``: v6.9, where a write fault stopped reusing a large folio that is not exclusive (until 6.15
reuses one its MM owns alone).

With mTHP (6.8) a PTE-mapped large folio can be mapped by one process only, and do_wp_page's refcount test
could still reuse it when one page was mapped last; Barry Song's 781a3ca5c345 made wp_can_reuse_anon_folio
refuse every large folio: a page of one that is not PG_anon_exclusive is always copied (one small page),
even when no other process maps the folio any more (the spurious copy 1da190f4d0a6 removed in 6.15).
"""

from modelcheck.cow.policies.base import PageInfo, WriteFault
from modelcheck.cow.policies.mapcount import Pre2020Rule
from modelcheck.cow.policies.pieces import commit, era
from modelcheck.cow.policies.uffd_move_6_8 import UffdMove68Policy


@commit("781a3ca5c345", "mm: prohibit the last subpage from reusing the entire large folio", "v6.9",
        "a page of a large folio that is not exclusive is always copied")
class NoReuseOfLargeFolios(Pre2020Rule):
    """wp_can_reuse_anon_folio returns false for a large folio (the id and release as the 6.9-rc1 mm pull lists
    them; not read in a 6.9 tree): only an exclusive page is reused, ahead of it."""

    def write_fault(self, page: PageInfo) -> WriteFault:
        if page.large and not page.exclusive:
            return WriteFault.COPY
        return super().write_fault(page)


LargeFolio69Policy = era("large_folio_6_9", "v6.9", UffdMove68Policy, [NoReuseOfLargeFolios],
                         summary="uffd_move_6_8, and a write fault copies every page of a large folio that is not "
                                 "exclusive")
POLICY = LargeFolio69Policy()
