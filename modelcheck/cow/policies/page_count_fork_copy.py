"""``page_count_fork_copy``: v5.11 to v5.17, the page_count rule and its repairs.

The policy stands for the end of that line (v5.17): every piece below is in.

page_maybe_dma_pinned() is refcount >= 1024: a few FOLL_GET references (O_DIRECT,
vmsplice) do not make it true, so only FOLL_PIN users are protected; 1023 of
them more than the mappings do, a false positive (O16).
"""

from modelcheck.cow.policies.base import ForkPage, PageInfo
from modelcheck.cow.policies.page_count_early_cow import PageCountEarlyCowPolicy
from modelcheck.cow.policies.mapcount import Pre2020Rule
from modelcheck.cow.policies.pieces import commit, era


@commit("57efa1fe5957", "mm/gup: prevent gup_fast from racing with COW during fork", "v5.11",
        "a GUP-fast pin made while fork copies the page tables is dropped, and the slow path waits for fork")
class ForkWriteProtectSeq(Pre2020Rule):
    """Jason Gunthorpe (S25): copy_page_range raises mm->write_protect_seq (a seqcount, written under the
    parent's mmap_lock) around the copy of each COW mapping. A FOLL_PIN of GUP-fast reads it before its
    lockless walk and gives up at once if it is odd; after the walk, if it changed, it unpins what it pinned
    and leaves the work to the slow path, which waits for fork's mmap_lock. So a pin is either taken before
    fork's page_maybe_dma_pinned check sees the page (which fork then copies) or after fork is done. Read in
    the 5.10.13 tree (a 5.10.y backport) and in 7.1.5's gup_fast (raw_seqcount_try_begin there); FOLL_GET
    GUP-fast is not covered."""

    fork_write_protect_seq = True


@commit("4eae4efa2c29", "hugetlb: do early cow when page pinned on src mm", "v5.12",
        "fork copies a maybe-pinned hugetlb page for the child if the mm has pinned")
class EarlyCowForPinnedHugetlbPages(Pre2020Rule):
    """Peter Xu: the hugetlb counterpart of 70e806e4e645 in copy_hugetlb_page_range (v5.12 by the revlists
    cow-history.md cites, P3): a maybe-pinned page (its exact pincount) of a COW mapping of an mm that has
    pinned is copied into a new huge page for the child, the parent's PTE left writable."""

    def fork_hugetlb(self, page: PageInfo) -> ForkPage:
        if page.has_pinned and page.maybe_dma_pinned:
            return ForkPage.COPY
        return super().fork_hugetlb(page)


@commit("feb889fb40fa", "mm: don't put pinned pages into the swap cache", "v5.11",
        "reclaim keeps a maybe-pinned page out of the swap cache")
class PinnedPagesStayOutOfSwapCache(Pre2020Rule):
    """Linus Torvalds, v5.11-rc4 (S24): shrink_page_list does not add a maybe-pinned anonymous page to the
    swap cache. The check is made once, before the page is unmapped: a pin taken after it is not seen (O4)."""

    def reclaim_skips(self, page: PageInfo) -> bool:
        return page.maybe_dma_pinned


@commit("9348b73c2e1b", "mm: don't play games with pinned pages in clear_page_refs", "v5.11",
        "clear_refs skips a writable PTE of a maybe-pinned page (mm has pinned)")
class ClearRefsSkipsPinnedPages(Pre2020Rule):
    """Linus Torvalds, v5.11-rc4 (S24): the soft-dirty reset neither write-protects nor cleans a writable
    PTE of a maybe-pinned page in an mm that has pinned; it stays soft-dirty, so nothing is lost."""

    def clear_refs_skips(self, page: PageInfo, pte_writable: bool) -> bool:
        return pte_writable and page.has_pinned and page.maybe_dma_pinned


@commit("912efa17e512", "mm: proc: Invalidate TLB after clearing soft-dirty page state", "v5.12",
        "clear_refs flushes the TLB after write-protecting")
class ClearRefsFlushesTlb(Pre2020Rule):
    """Will Deacon (S22): clear_refs raises the mm's pending-flush count and flushes the TLB itself,
    like mprotect, instead of a batched flush that could be elided (O9)."""

    clear_refs_flushes_tlb = True


@commit("6ce64428d620", "mm/userfaultfd: fix memory corruption due to writeprotect", "v5.12",
        "a write fault in a uffd-wp VMA flushes a pending TLB flush first")
class UffdWpFlushBeforeWpFault(Pre2020Rule):
    """Nadav Amit (S23; id confirmed in predicates-check §3): at the top of do_wp_page, before reuse or
    copy, a VMA registered for uffd-wp with a TLB flush pending flushes the faulting address (O8)."""

    flushes_pending_tlb_before_wp_fault = True


@commit("c949b097ef2e", "userfaultfd/shmem: support minor fault registration for shmem", "v5.14",
        "a shmem mapping registers for minor faults; UFFDIO_CONTINUE maps its page-cache page",
        also=("153132571f02",))
class ShmemMinorFaults(Pre2020Rule):
    """Axel Rasmussen (the ids as a log of the v5.14 merge gives them, not read in a tree): a fault that finds
    the page in the page cache of a VMA registered with UFFDIO_REGISTER_MODE_MINOR hands it to userfaultfd
    (shmem_getpage_gfp in the 5.19 tree), and 153132571f02 ("userfaultfd/shmem: support UFFDIO_CONTINUE for
    shmem") lets the handler map that page where nothing is mapped. Before them such a registration of shmem
    fails (EINVAL)."""

    uffd_minor_shmem = True


@commit("9ae0f87d009c", "mm/shmem: unconditionally set pte dirty in mfill_atomic_install_pte", "v5.16",
        "UFFDIO_CONTINUE maps a page-cache page dirty even where it maps it read-only")
class ContinueMapsDirty(Pre2020Rule):
    """Peter Xu, a preparation of the shmem uffd-wp series: mfill_atomic_install_pte sets the dirty bit on
    every PTE it installs (the 5.19 and 7.1.5 trees), where before a page-cache page went in clean unless it
    was mapped writable. In a private mapping that is a read-only dirty PTE of a page that is not anonymous,
    which FOLL_COW's can_follow_write_pte took for the forced write's own COW copy (CVE-2022-2590, until
    5535be309971 in v6.0)."""

    uffd_continue_maps_dirty = True


PageCountForkCopyPolicy = era(
    "page_count_fork_copy", "v5.11-v5.17", PageCountEarlyCowPolicy,
    [ForkWriteProtectSeq, EarlyCowForPinnedHugetlbPages, PinnedPagesStayOutOfSwapCache, ClearRefsSkipsPinnedPages, ClearRefsFlushesTlb,
     UffdWpFlushBeforeWpFault, ShmemMinorFaults, ContinueMapsDirty],
    summary="page_count reuse; fork copies maybe-pinned pages; clear_refs skips them")
POLICY = PageCountForkCopyPolicy()
