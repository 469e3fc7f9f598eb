"""``page_count_refuse_wrprotect``: direction A of the January 2021 debate (a design, never merged).

Pins stay coherent, at the price of write-protection that does not take
effect (I6).
"""

from modelcheck.cow.policies.base import PageInfo
from modelcheck.cow.policies.mapcount import Pre2020Rule
from modelcheck.cow.policies.page_count_fork_copy import PageCountForkCopyPolicy
from modelcheck.cow.policies.pieces import era, proposal


@proposal("direction A: refuse to write-protect maybe-pinned pages", "S1", "15 Jan 2021",
          "mprotect(PROT_READ) and uffd-wp skip maybe-pinned pages (mm has pinned)")
class RefuseToWriteProtectPinnedPages(Pre2020Rule):
    """David Hildenbrand's summary (S1), direction A: keep the v5.9 page_count simplification and make every
    operation that would write-protect a maybe-pinned page refuse or skip it, as clear_refs already did
    (9348b73c2e1b)."""

    def wrprotect_skips(self, page: PageInfo) -> bool:
        return page.has_pinned and page.maybe_dma_pinned


PageCountRefuseWrprotectPolicy = era(
    "page_count_refuse_wrprotect", "proposal, Jan 2021", PageCountForkCopyPolicy, [RefuseToWriteProtectPinnedPages],
    summary="direction A: page_count, and write-protection skips maybe-pinned pages")
POLICY = PageCountRefuseWrprotectPolicy()
