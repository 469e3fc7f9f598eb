"""``page_count_fork_copy``: v5.9 final to v5.17, the page_count rule and its repairs.

* 70e806e4e645 ("mm: Do early cow for pinned pages during fork() for ptes",
  Peter Xu, with 008cfe4418b3 mm->has_pinned; v5.9): when the parent's mm has
  ever FOLL_PIN'ed and page_maybe_dma_pinned() says the page may be pinned,
  fork copies it for the child now (child PTE writable if VM_WRITE) and leaves
  the parent's PTE writable on the pinned page.
* 9348b73c2e1b ("mm: don't play games with pinned pages in clear_page_refs",
  v5.11-rc4): clear_refs soft-dirty reset skips a writable PTE of a maybe-pinned
  page in an mm that has pinned (it stays soft-dirty, so nothing is lost).
* 6ce64428d620 ("mm/userfaultfd: fix memory corruption due to writeprotect",
  Nadav Amit, v5.12): at the top of do_wp_page, in a VMA registered for uffd-wp
  with a TLB flush still pending, flush the faulting address first.
* 912efa17e512 ("mm: proc: Invalidate TLB after clearing soft-dirty page
  state", Will Deacon, v5.12): clear_refs flushes after write-protecting.
* feb889fb40fa ("mm: don't put pinned pages into the swap cache", v5.11-rc4):
  reclaim keeps a maybe-pinned page out of the swap cache. The check is made
  once, before the page is unmapped: a pin taken after it is not seen (O4).

The policy stands for the end of that line (v5.17): every fix above is in.

page_maybe_dma_pinned() is refcount >= 1024: a few FOLL_GET references (O_DIRECT,
vmsplice) do not make it true, so only FOLL_PIN users are protected; 1023 of
them more than the mappings do, a false positive (O16).
"""

from modelcheck.cow.policies.base import ForkPage, PageInfo
from modelcheck.cow.policies.page_count import PageCountPolicy


class PageCountForkCopyPolicy(PageCountPolicy):
    name = "page_count_fork_copy"
    release = "v5.9-v5.17"
    commits = ("70e806e4e645", "008cfe4418b3", "9348b73c2e1b", "6ce64428d620", "912efa17e512", "feb889fb40fa")
    flushes_pending_tlb_before_wp_fault = True
    clear_refs_flushes_tlb = True
    summary = "page_count reuse; fork copies maybe-pinned pages; clear_refs skips them"

    def fork_page(self, page: PageInfo) -> ForkPage:
        if page.has_pinned and page.maybe_dma_pinned:
            return ForkPage.COPY
        return ForkPage.SHARE

    def clear_refs_skips(self, page: PageInfo, pte_writable: bool) -> bool:
        return pte_writable and page.has_pinned and page.maybe_dma_pinned

    def reclaim_skips(self, page: PageInfo) -> bool:
        return page.maybe_dma_pinned


POLICY = PageCountForkCopyPolicy()
