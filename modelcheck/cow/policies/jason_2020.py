"""``jason_2020``: Jason Gunthorpe's proposal of September 2020 (never merged)."""

from modelcheck.cow.policies.base import PageInfo, WriteFault
from modelcheck.cow.policies.mapcount import Pre2020Rule
from modelcheck.cow.policies.page_count import PageCountPolicy
from modelcheck.cow.policies.pieces import era, proposal


@proposal("Re: [PATCH 1/4] mm: Trial do_wp_page() simplification", "S35", "Sep 2020",
          "a maybe-pinned page mapped once is reused on its mapcount and swap count")
class MapcountFallbackForPinnedPages(Pre2020Rule):
    """In the review of the do_wp_page simplification (S35, 16-18 Sep 2020): reuse when the refcount and
    mapcount are both 1, as 09854ba94c6a does, or, when page_maybe_dma_pinned() says the page may be
    pinned, fall back to the old test, reuse_swap_page() (mapcount plus swap count at most one), instead of
    copying. Peter Xu objected that after fork this works only if the child has already gone. The swap count
    matters once a page has been swapped out: a child's swap PTE still names the page's slot, so the
    fallback copies (spec C12-C9)."""

    def write_fault(self, page: PageInfo) -> WriteFault:
        if not page.locked and page.maybe_dma_pinned and page.mapcount + page.swapcount <= 1:
            return WriteFault.REUSE
        return super().write_fault(page)


Jason2020Policy = era("jason_2020", "proposal, Sep 2020", PageCountPolicy, [MapcountFallbackForPinnedPages],
                      summary="page_count reuse, but a maybe-pinned page mapped once is reused on its mapcount")
POLICY = Jason2020Policy()
