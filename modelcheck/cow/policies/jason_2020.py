"""``jason_2020``: Jason Gunthorpe's proposal of September 2020 (never merged).

In the review of the do_wp_page simplification (16-18 Sep 2020), reuse when
the page's refcount and mapcount are both 1, as 09854ba94c6a does, or, when
page_maybe_dma_pinned() says the page may be pinned, fall back to the old
mapcount (plus swap count) test instead of copying, so a pinned page that is
mapped once is reused. Peter Xu objected that after fork this works only if
the child has already gone.
"""

from modelcheck.cow.policies.base import PageInfo, WriteFault
from modelcheck.cow.policies.page_count import PageCountPolicy


class Jason2020Policy(PageCountPolicy):
    name = "jason_2020"
    release = "proposal, Sep 2020"
    commits = ()
    summary = "page_count reuse, but a maybe-pinned page mapped once is reused on its mapcount"

    def write_fault(self, page: PageInfo) -> WriteFault:
        if page.locked:
            return WriteFault.COPY
        if page.refcount == 1 and page.mapcount == 1:
            return WriteFault.REUSE
        if page.maybe_dma_pinned and page.mapcount <= 1:
            return WriteFault.REUSE
        return WriteFault.COPY


POLICY = Jason2020Policy()
