"""``anon_exclusive``: v5.19, "COW fixes part 2: reliable GUP pins of anonymous pages"; direction B.

David Hildenbrand's series (S11, final list S12; the unsharing builds on
patches by Andrea Arcangeli, S13). Its decisions come from four of its commits, each a
piece below; the rest of the series prepares rmap, hugetlb and the debug checks
and decides nothing here. What the world itself does for this policy (a new
page and a reused one are marked exclusive, fork clears the flag on a page it
shares) comes with ``uses_exclusive``.
"""

from modelcheck.cow.policies.base import ForkPage, GupRequest, HugeWriteFault, PageInfo, Unshare, WriteFault
from modelcheck.cow.policies.mapcount import Pre2020Rule
from modelcheck.cow.policies.pieces import commit, era
from modelcheck.cow.policies.refcount_5_18 import Refcount518Policy


@commit("6c287605fd56", "mm: remember exclusively mapped anonymous pages with PG_anon_exclusive", "v5.19",
        "reuse exclusive pages; fork copies, unmap refuses pinned exclusive ones",
        also=("78fbe906cc90",))
class RememberAnonExclusive(Pre2020Rule):
    """The commit message (S14) names all three: the COW logic always reuses an exclusive page (a page that
    might be shared goes through the 5.18 chain, and a reuse marks it exclusive); fork() must clear the flag
    to share a page and cannot for a pinned one (MMF_HAS_PINNED and page_maybe_dma_pinned), so it copies it
    for the child; swap-out must clear it before unmapping and fails for a pinned page. The flag itself is
    78fbe906cc90 (PG_mappedtodisk reused as PG_anon_exclusive for anonymous pages)."""

    uses_exclusive = True

    def write_fault(self, page: PageInfo) -> WriteFault:
        if page.exclusive:
            return WriteFault.REUSE
        return super().write_fault(page)

    def drains_lru_before_reuse(self, page: PageInfo) -> bool:
        return not page.exclusive and super().drains_lru_before_reuse(page)

    def fork_page(self, page: PageInfo) -> ForkPage:
        """page_try_dup_anon_rmap: a page that is not exclusive is shared as it is; only an exclusive one
        goes through the pin check of 70e806e4e645."""
        if not page.exclusive:
            return ForkPage.SHARE
        return super().fork_page(page)

    def unmap_refuses(self, page: PageInfo) -> bool:
        """page_try_share_anon_rmap: an exclusive page that may be pinned cannot be unmapped."""
        return page.exclusive and page.maybe_dma_pinned

    def huge_write_fault(self, page: PageInfo) -> HugeWriteFault:
        """do_huge_pmd_wp_page: a THP whose head is exclusive is reused at once (the head's flag stands for
        the PMD mapping)."""
        if page.exclusive:
            return HugeWriteFault.REUSE
        return super().huge_write_fault(page)

    def fork_huge(self, page: PageInfo) -> ForkPage:
        """page_try_dup_anon_rmap on the head: as ``fork_page``, only an exclusive THP is checked for pins."""
        if not page.exclusive:
            return ForkPage.SHARE
        return super().fork_huge(page)

    def fork_hugetlb(self, page: PageInfo) -> ForkPage:
        """copy_hugetlb_page_range's page_try_dup_anon_rmap: only an exclusive hugetlb page is checked."""
        if not page.exclusive:
            return ForkPage.SHARE
        return super().fork_hugetlb(page)


@commit("c89357e27f20", "mm: support GUP-triggered unsharing of anonymous pages", "v5.19",
        "unsharing keeps a page the write-fault test would reuse, else copies")
class UnshareFault(Pre2020Rule):
    """FAULT_FLAG_UNSHARE (S13) goes through do_wp_page's reuse test without making the PTE writable: an
    exclusive page needs nothing, a page the test would reuse is kept and marked exclusive, any other is
    copied into a fresh exclusive page that stays mapped read-only."""

    def unshare(self, page: PageInfo) -> Unshare:
        return Unshare.KEEP if self.write_fault(page) is WriteFault.REUSE else Unshare.COPY


@commit("a7f226604170", "mm/gup: trigger FAULT_FLAG_UNSHARE when R/O-pinning a possibly shared anonymous page",
        "v5.19", "a FOLL_PIN read of a non-exclusive page unshares it first")
class ReadOnlyPinsUnshare(Pre2020Rule):
    """gup_must_unshare (S32): FOLL_PIN without FOLL_WRITE on a read-only PTE of a page that is not
    exclusive. FOLL_GET reads are left alone: they are never reliable (S15). Only anonymous pages: the
    commit's gup_must_unshare returns false for anything else (the shared zero page, a page-cache page in a
    private file mapping), so such a R/O pin takes the page as mapped and a later write fault copies away
    from it (cow.c's test_ro_pin on the zeropage, memfd and tmpfile() kinds fail until 84209e87c696)."""

    def read_gup_unshares(self, request: GupRequest, page: PageInfo) -> bool:
        return request.pin and page.anon and not page.exclusive


@commit("1493a1913e34", "mm/swap: remember PG_anon_exclusive via a swp pte bit", "v5.19",
        "an exclusive swap PTE is swapped in writable at once",
        also=("3e20889cfbee",))
class SwapPteKeepsExclusive(Pre2020Rule):
    """Swap-out records exclusivity in the swap PTE and do_swap_page restores it; otherwise the 5.18
    refcount rule decides. x86 has the bit from 3e20889cfbee (x86/pgtable: support
    __HAVE_ARCH_PTE_SWP_EXCLUSIVE), in the same release."""

    def swapin_reuse(self, page: PageInfo, swap_exclusive: bool) -> bool:
        return swap_exclusive or super().swapin_reuse(page, swap_exclusive)


AnonExclusivePolicy = era(
    "anon_exclusive", "v5.19", Refcount518Policy,
    [RememberAnonExclusive, UnshareFault, ReadOnlyPinsUnshare, SwapPteKeepsExclusive],
    summary="PG_anon_exclusive: exclusive pages reuse; R/O pins unshare; fork copies pinned exclusive pages")
POLICY = AnonExclusivePolicy()
