"""``page_count_refuse_wrprotect``: direction A of the January 2021 debate (a design, never merged).

David Hildenbrand's summary of 15 Jan 2021, direction A: keep the v5.9
page_count simplification and make every operation that would write-protect a
maybe-pinned page refuse or skip it, as clear_refs already did (9348b73c2e1b):
mprotect(PROT_READ) and uffd-wp leave such a PTE writable. Pins stay coherent,
at the price of write-protection that does not take effect (I6).
"""

from modelcheck.cow.policies.base import PageInfo
from modelcheck.cow.policies.page_count_fork_copy import PageCountForkCopyPolicy


class RefuseWrprotectPolicy(PageCountForkCopyPolicy):
    name = "page_count_refuse_wrprotect"
    release = "proposal, Jan 2021"
    commits = ()
    summary = "direction A: page_count, and write-protection skips maybe-pinned pages"

    def wrprotect_skips(self, page: PageInfo) -> bool:
        return page.has_pinned and page.maybe_dma_pinned


POLICY = RefuseWrprotectPolicy()
