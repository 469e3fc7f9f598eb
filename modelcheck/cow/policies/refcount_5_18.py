"""``refcount_5_18``: "COW fixes part 1" (David Hildenbrand, v5.18).

do_wp_page for a small anonymous page, in order: copy if the page is KSM or
its refcount is above 3; if the page is not on the LRU (it still sits in a
per-CPU LRU batch that holds a reference), drain the local batch
(d4c470970d45, "mm: optimize do_wp_page() for fresh pages in local LRU
pagevecs"); copy if the refcount is above 1 plus the swap cache's reference;
trylock (else copy); free the swap slot if in the swap cache (53a05ad9f21d);
reuse only if the refcount is now exactly 1. The same refcount rule replaced
reuse_swap_page() in the swap-in and THP paths (the world has neither yet).

No 5.18 tree was available; the rule is the 5.19 code without its
PageAnonExclusive lines, checked against the series' diffs.
"""

from modelcheck.cow.policies.base import PageInfo, WriteFault
from modelcheck.cow.policies.page_count_fork_copy import PageCountForkCopyPolicy


class Refcount518Policy(PageCountForkCopyPolicy):
    name = "refcount_5_18"
    release = "v5.18"
    commits = ("53a05ad9f21d", "d4c470970d45")
    summary = "page_count reuse that drains the local LRU batch first (no copy for a batch reference)"

    def drains_lru_before_reuse(self, page: PageInfo) -> bool:
        return page.refcount <= 3 and page.in_lru_batch

    def write_fault(self, page: PageInfo) -> WriteFault:
        return WriteFault.REUSE if page.refcount == 1 else WriteFault.COPY


POLICY = Refcount518Policy()
