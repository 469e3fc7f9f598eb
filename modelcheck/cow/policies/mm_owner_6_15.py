"""``mm_owner_6_15``: v6.15 on, COW reuse of a PTE-mapped large folio its MM owns alone, its assertions fixed.

``mm_owner_6_15_rc1`` as v6.15 released it: during 6.15-rc the reuse check's sanity checks moved behind the
recheck under the large mapcount's lock (8bdea2fce980, after syzbot hit one while another process unmapped
the folio's PMD: folio_dec_large_mapcount ran, folio_entire_mapcount had not yet), and the assertion under
the lock was turned round (4b7c0857f87a: a refcount above the mapcount is legitimate, the opposite is the
bug). The decisions are 1da190f4d0a6's; read in the 7.1.5 tree (mm/memory.c).
"""

from modelcheck.cow.policies.base import KernelWarning, LargeLook, PageInfo
from modelcheck.cow.policies.mapcount import Pre2020Rule
from modelcheck.cow.policies.mm_owner_6_15_rc1 import MmOwner615Rc1Policy, sanity_warnings
from modelcheck.cow.policies.pieces import commit, era


@commit("8bdea2fce980", "mm/memory: move sanity checks in do_wp_page() after mapcount vs. refcount stabilization",
        "v6.15", "the large folio's sanity is asserted only once the recheck under the lock has passed")
class SanityChecksAfterStabilisation(Pre2020Rule):
    """Before the lock, another MM's unmap may be half done (its large mapcount dropped, its entire mapcount
    not yet): the folio is asserted sane only where the reuse is decided."""

    def large_reuse_unlocked(self, page: PageInfo) -> LargeLook:
        go, warned = super().large_reuse_unlocked(page)
        return go, tuple(w for w in warned if w not in sanity_warnings(page))

    def large_reuse_locked(self, page: PageInfo) -> LargeLook:
        reuse, warned = super().large_reuse_locked(page)
        return reuse, warned + (sanity_warnings(page) if reuse else ())


@commit("4b7c0857f87a", "mm/memory: fix mapcount / refcount sanity check for mTHP reuse", "v6.15",
        "under the lock, the assertion is that the refcount covers the large mapcount")
class RefcountCoversMapcount(Pre2020Rule):
    """Kairui Song's fix: each mapping holds a reference (taken before it is mapped, dropped after it is
    unmapped), so under the lock the large mapcount can be below the refcount (any extra reference), never
    above it."""

    def large_reuse_locked(self, page: PageInfo) -> LargeLook:
        reuse, warned = super().large_reuse_locked(page)
        warned = tuple(w for w in warned if w is not KernelWarning.MAPCOUNT_BELOW_REFCOUNT)
        if page.large_mapcount > page.refcount:
            warned = (KernelWarning.MAPCOUNT_ABOVE_REFCOUNT, *warned)
        return reuse, warned


MmOwner615Policy = era("mm_owner_6_15", "v6.15", MmOwner615Rc1Policy,
                       [SanityChecksAfterStabilisation, RefcountCoversMapcount],
                       summary="huge_zero_thp_6_13, and a large folio mapped only by this MM (MM-owner tracking) "
                               "is reused")
POLICY = MmOwner615Policy()
