"""``anon_exclusive_6_2``: v6.0 to v6.2, the anon_exclusive line completed."""

from modelcheck.cow.policies.anon_exclusive import AnonExclusivePolicy
from modelcheck.cow.policies.base import GupRequest, PageInfo
from modelcheck.cow.policies.mapcount import Pre2020Rule
from modelcheck.cow.policies.pieces import commit, era


@commit("64fe24a3e05e", "mm/mprotect: try avoiding write faults for exclusive anonymous pages when changing "
        "protection", "v6.0", "mprotect(PROT_WRITE) maps an exclusive, soft-dirty PTE writable")
class MprotectUpgradesExclusive(Pre2020Rule):
    """S26: mprotect sets the write bit directly on a private anonymous PTE whose page is exclusive, when the
    PTE has no uffd-wp bit and soft-dirty tracking needs no fault (the PTE is already soft-dirty). 6.0 also
    required the PTE to be dirty; by 6.2 a later commit ("mm/mprotect: allow clean exclusive anon pages to be
    writable", Nadav Amit, Nov 2022; its mainline id is not verified) drops that for private mappings. The
    world has no dirty bit, so this piece is the 6.2 rule."""

    def mprotect_makes_writable(self, page: PageInfo, pte_soft_dirty: bool) -> bool:
        return page.exclusive and pte_soft_dirty


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


AnonExclusive62Policy = era("anon_exclusive_6_2", "v6.2", AnonExclusivePolicy,
                            [MprotectUpgradesExclusive, ReliableReadOnlyLongtermPins],
                            summary="anon_exclusive plus mprotect write-upgrade of exclusive pages")
POLICY = AnonExclusive62Policy()
