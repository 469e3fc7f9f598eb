"""``anon_exclusive``: v5.19, "COW fixes part 2: reliable GUP pins of anonymous pages"; direction B.

6c287605fd56 ("mm: remember exclusively mapped anonymous pages with
PG_anon_exclusive") and the rest of David Hildenbrand's series:
* a write fault on an exclusive page reuses it at once; otherwise the 5.18
  refcount chain decides, and a reuse marks the page exclusive; a new page is
  exclusive;
* fork shares a page only after clearing its exclusive flag, which it refuses
  for an exclusive page that may be pinned (MMF_HAS_PINNED and
  page_maybe_dma_pinned): that page is copied for the child instead;
* a FOLL_PIN without FOLL_WRITE on a read-only PTE of a non-exclusive page
  first triggers FAULT_FLAG_UNSHARE: the page is kept (and marked exclusive)
  when the 5.18 chain would reuse it, else copied into a fresh exclusive page
  that stays mapped read-only. FOLL_GET reads are left alone (never reliable);
* reclaim unmaps an exclusive page only if it can clear its exclusive flag,
  which fails for a maybe-pinned page; the swap PTE keeps the exclusive bit and
  swap-in restores it (x86 had the bit in 5.19).
"""

from modelcheck.cow.policies.base import ForkPage, GupRequest, PageInfo, Unshare, WriteFault
from modelcheck.cow.policies.refcount_5_18 import Refcount518Policy


class AnonExclusivePolicy(Refcount518Policy):
    name = "anon_exclusive"
    release = "v5.19"
    commits = ("6c287605fd56",)
    summary = "PG_anon_exclusive: exclusive pages reuse; R/O pins unshare; fork copies pinned exclusive pages"
    uses_exclusive = True

    def write_fault(self, page: PageInfo) -> WriteFault:
        if page.exclusive:
            return WriteFault.REUSE
        return super().write_fault(page)

    def drains_lru_before_reuse(self, page: PageInfo) -> bool:
        return not page.exclusive and super().drains_lru_before_reuse(page)

    def fork_page(self, page: PageInfo) -> ForkPage:
        if page.exclusive and page.has_pinned and page.maybe_dma_pinned:
            return ForkPage.COPY
        return ForkPage.SHARE

    def read_gup_unshares(self, request: GupRequest, page: PageInfo) -> bool:
        """gup_must_unshare: FOLL_PIN without FOLL_WRITE on a page that is not exclusive."""
        return request.pin and not page.exclusive

    def swapin_reuse(self, page: PageInfo, swap_exclusive: bool) -> bool:
        """The swap PTE's exclusive bit restores exclusivity; otherwise the 5.18 rule."""
        return swap_exclusive or super().swapin_reuse(page, swap_exclusive)

    def unmap_refuses(self, page: PageInfo) -> bool:
        """page_try_share_anon_rmap: an exclusive page that may be pinned cannot be unmapped."""
        return page.exclusive and page.maybe_dma_pinned

    def unshare(self, page: PageInfo) -> Unshare:
        if page.exclusive or Refcount518Policy.write_fault(self, page) is WriteFault.REUSE:
            return Unshare.KEEP
        return Unshare.COPY


POLICY = AnonExclusivePolicy()
