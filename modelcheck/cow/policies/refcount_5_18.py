"""``refcount_5_18``: "COW fixes part 1" (David Hildenbrand, v5.18).

do_wp_page for a small anonymous page, in order: copy if the page is KSM or
its refcount is above 3; if the page is not on the LRU (it still sits in a
per-CPU LRU batch that holds a reference), drain the local batch
(d4c470970d45, "mm: optimize do_wp_page() for fresh pages in local LRU
pagevecs"); copy if the refcount is above 1 plus the swap cache's reference;
trylock (else copy); free the swap slot if in the swap cache (53a05ad9f21d),
which succeeds when no swap PTE still names it; reuse only if the refcount is
now exactly 1. The same refcount rule replaced reuse_swap_page() in the swap-in
path: a write fault maps the page writable at once only when nothing but the
swap cache and the faulting swap PTE hold it (the THP path is not modelled).

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
        refcount = page.refcount
        if refcount > 3 or refcount > 1 + page.in_swapcache or page.locked:  # page.locked: trylock fails
            return WriteFault.COPY
        if page.in_swapcache and page.swapcount == 0:
            refcount -= 1  # try_to_free_swap drops the swap cache's reference
        return WriteFault.REUSE if refcount == 1 else WriteFault.COPY

    def swapin_reuse(self, page: PageInfo, swap_exclusive: bool) -> bool:
        """Map writable at once only when the swap cache and this swap PTE are the page's only holders."""
        return page.refcount - page.in_swapcache == 0 and page.swapcount == 1


POLICY = Refcount518Policy()
