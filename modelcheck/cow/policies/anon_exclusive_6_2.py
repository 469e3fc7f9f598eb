"""``anon_exclusive_6_2``: v6.0 to v6.2, the anon_exclusive line completed (and break_ksm by unsharing, 6.2)."""

from modelcheck.cow.policies.anon_exclusive import AnonExclusivePolicy
from modelcheck.cow.policies.base import GupRequest, PageInfo
from modelcheck.cow.policies.mapcount import Pre2020Rule
from modelcheck.cow.policies.pieces import commit, era


@commit("64fe24a3e05e", "mm/mprotect: try avoiding write faults for exclusive anonymous pages when changing "
        "protection", "v6.0", "mprotect(PROT_WRITE) maps an exclusive, soft-dirty PTE writable",
        also=("c27f479ef542", "d84887739d5c"))
class MprotectUpgradesExclusive(Pre2020Rule):
    """S26: mprotect sets the write bit directly on a private anonymous PTE whose page is exclusive, when the
    PTE has no uffd-wp bit and soft-dirty tracking needs no fault (the PTE is already soft-dirty). 6.0 also
    required the PTE to be dirty; d84887739d5c (mm/mprotect: allow clean exclusive anon pages to be writable,
    Nadav Amit, v6.2) drops that for private mappings. The world has no dirty bit, so this piece is the 6.2
    rule; and c27f479ef542 (mm/huge_memory: try avoiding write faults when changing PMD protection, v6.2:
    can_change_pmd_writable, absent from the 6.0-rc1 tree, in the 6.2.1 one) does the same for a PMD-mapped
    THP whose head page is exclusive."""

    def mprotect_makes_writable(self, page: PageInfo, pte_soft_dirty: bool) -> bool:
        return page.exclusive and pte_soft_dirty


@commit("5535be309971", "mm/gup: fix FOLL_FORCE COW security issue and remove FOLL_COW", "v6.0",
        "a forced write follows a read-only PTE only of an exclusive anonymous page")
class ForcedWriteNeedsExclusive(Pre2020Rule):
    """S28, CVE-2022-2590: FOLL_COW trusted a dirty read-only PTE, and shmem's UFFDIO_CONTINUE could map a
    page-cache page read-only and dirty. Since then (can_follow_write_common and can_follow_write_pte in the
    7.1.5 tree, mm/gup.c) a FOLL_FORCE write to a read-only PTE of a private mapping without VM_WRITE follows
    it only if the page is anonymous and PageAnonExclusive and no soft-dirty or uffd-wp write fault is
    wanted; otherwise it faults first (unsharing or copying), whether or not it faulted before."""

    def forced_write_follows(self, page: PageInfo, cowed: bool, pte_dirty: bool, fault_needed: bool) -> bool:
        return page.exclusive and not fault_needed


@commit("84209e87c696", "mm/gup: reliable R/O long-term pinning in COW mappings", "v6.2",
        "R/O long-term pins in a COW mapping unshare non-anon pages (the zero page, a page-cache page)",
        also=("8d6a0ac09a16",))
class ReliableReadOnlyLongtermPins(Pre2020Rule):
    """S27: a FOLL_LONGTERM read pin in a COW mapping unshares anything that is not an exclusive anonymous
    page (the zero page, a page-cache page), which 8d6a0ac09a16 (mm: extend FAULT_FLAG_UNSHARE support to
    anything in a COW mapping) made possible: the unsharing fault maps an exclusive anonymous copy R/O.
    Read in the 7.1.5 tree (gup_must_unshare, mm/internal.h): for a page that is not anonymous it asks for
    FOLL_LONGTERM and then is_cow_mapping of the VMA; a short-term FOLL_PIN (O_DIRECT) of such a page, or any
    pin in a MAP_SHARED mapping, takes the page as mapped. For anonymous pages 5.19's rule stays (any R/O
    FOLL_PIN of a page that is not exclusive)."""

    def read_gup_unshares(self, request: GupRequest, page: PageInfo) -> bool:
        if not page.anon:
            return request.pin and request.longterm and request.cow_mapping
        return super().read_gup_unshares(request, page)


@commit("6cce3314b928", "mm/ksm: fix KSM COW breaking with userfaultfd-wp via FAULT_FLAG_UNSHARE", "v6.2",
        "MADV_UNMERGEABLE breaks a KSM page by an unsharing fault, not a write fault")
class BreakKsmByUnshare(Pre2020Rule):
    """David Hildenbrand: break_ksm raised a fake write fault, which mapped the copy writable and soft-dirty
    and, on a uffd-wp PTE, failed with VM_FAULT_SIGBUS (handle_userfault cannot retry there), so break_ksm
    returned 0 with the page still merged (ksm_functional_tests' test_unmerge_uffd_wp); FAULT_FLAG_UNSHARE
    gives a read-only exclusive copy and never a userfault."""

    breaks_ksm_by_unshare = True


@commit("7d8faaf15545", "mm/madvise: introduce MADV_COLLAPSE sync hugepage collapse", "v6.1",
        "MADV_COLLAPSE collapses a range into a PMD-mapped THP at once")
class MadviseCollapse(Pre2020Rule):
    """Zach O'Keefe: khugepaged's collapse_huge_page done for the caller, on the range it names; before it the
    advice is EINVAL. v6.1 has no era of its own (``anon_exclusive`` stands for v5.19 to v6.1), so the world's
    first policy with it is this one."""

    madvise_collapse = True


AnonExclusive62Policy = era("anon_exclusive_6_2", "v6.2", AnonExclusivePolicy,
                            [MprotectUpgradesExclusive, ForcedWriteNeedsExclusive, ReliableReadOnlyLongtermPins,
                             BreakKsmByUnshare, MadviseCollapse],
                            summary="anon_exclusive plus mprotect write-upgrade of exclusive pages; KSM unmerged by "
                                    "unsharing")
POLICY = AnonExclusive62Policy()
