"""``refcount_5_18``: "COW fixes part 1" (David Hildenbrand, v5.18; S10).

do_wp_page for a small anonymous page, in order: copy if the page is KSM or
its refcount is above 3; drain the local LRU batch if the page is not on the
LRU; copy if the refcount is above 1 plus the swap cache's reference; trylock
(else copy); free the swap slot if in the swap cache; reuse only if the
refcount is now exactly 1. The same refcount rule replaced reuse_swap_page() in
the swap-in path and in the PMD-mapped THP's (3bff7e3f1f16).

No 5.18 tree was available; the rule is the 5.19 code without its
PageAnonExclusive lines, checked against the series' diffs (predicates-check §4).
"""

from modelcheck.cow.policies.base import HugeWriteFault, PageInfo, WriteFault
from modelcheck.cow.policies.mapcount import Pre2020Rule
from modelcheck.cow.policies.page_count_fork_copy import PageCountForkCopyPolicy
from modelcheck.cow.policies.pieces import commit, era


@commit("53a05ad9f21d", "mm: optimize do_wp_page() for exclusive pages in the swapcache", "v5.18",
        "try_to_free_swap first, then reuse only at refcount 1; no mapcount test")
class FreeSwapBeforeReuse(Pre2020Rule):
    """Copy a KSM page, or if the refcount is above 1 plus the swap cache's reference; trylock (else copy); if in the
    swap cache, try_to_free_swap, which succeeds when no swap PTE still names the slot and drops the cache's
    reference; reuse iff the refcount is then 1. The mapcount test is dropped as implied by the refcount.
    """

    def write_fault(self, page: PageInfo) -> WriteFault:
        refcount = page.refcount
        if page.ksm or refcount > 1 + page.in_swapcache or page.locked:  # page.locked: trylock fails
            return WriteFault.COPY
        if page.in_swapcache and page.swapcount == 0:
            refcount -= 1  # try_to_free_swap drops the swap cache's reference
        return WriteFault.REUSE if refcount == 1 else WriteFault.COPY


@commit("d4c470970d45", "mm: optimize do_wp_page() for fresh pages in local LRU pagevecs", "v5.18",
        "copy above refcount 3, else drain the local LRU batch before deciding")
class DrainLocalLruBeforeReuse(Pre2020Rule):
    """A fresh page still sits in a per-CPU LRU batch that holds a reference: if the page is not on the
    LRU and there is hope (refcount at most 3), lru_add_drain() the local batch, then decide as before."""

    def drains_lru_before_reuse(self, page: PageInfo) -> bool:
        return page.refcount <= 3 and page.in_lru_batch

    def write_fault(self, page: PageInfo) -> WriteFault:
        if page.refcount > 3:
            return WriteFault.COPY
        return super().write_fault(page)


@commit("c145e0b47c77", "mm: streamline COW logic in do_swap_page()", "v5.18",
        "swap-in reuses only if the swap cache and this swap PTE hold the page")
class SwapinOnRefcount(Pre2020Rule):
    """reuse_swap_page() (mapcount plus swap count) leaves the swap-in path too: a write fault maps the page
    writable at once only when nothing but the swap cache and the faulting swap PTE hold it
    (predicates-check §4, §7.1)."""

    def swapin_reuse(self, page: PageInfo, swap_exclusive: bool) -> bool:
        return page.refcount - page.in_swapcache == 0 and page.swapcount == 1


@commit("3bff7e3f1f16", "mm/huge_memory: streamline COW logic in do_huge_pmd_wp_page()", "v5.18",
        "a PMD-mapped THP is reused only at refcount 1 (else split)")
class HugePmdOnRefcount(Pre2020Rule):
    """The THP half of "COW fixes part 1" (S10): do_huge_pmd_wp_page splits unless the refcount, less the
    swap cache's references, is 1 (after trylock and freeing the swap slot): a GUP reference or a pipe
    buffer on any page of the THP now makes the fault split and COW the one page (the 5.19 code without its
    PageAnonExclusive lines)."""

    def huge_write_fault(self, page: PageInfo) -> HugeWriteFault:
        if page.refcount - page.in_swapcache == 1:
            return HugeWriteFault.REUSE
        return HugeWriteFault.SPLIT


Refcount518Policy = era("refcount_5_18", "v5.18", PageCountForkCopyPolicy,
                        [FreeSwapBeforeReuse, DrainLocalLruBeforeReuse, SwapinOnRefcount, HugePmdOnRefcount],
                        summary="page_count reuse that drains the local LRU batch first (no copy for a batch reference)")
POLICY = Refcount518Policy()
