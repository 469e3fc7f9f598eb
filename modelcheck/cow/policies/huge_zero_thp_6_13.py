"""``huge_zero_thp_6_13``: v6.13 and v6.14, where a write fault on the huge zero page maps a fresh THP.

Dev Jain's 1ced09e0331f (pushed to mainline in the 6.13 merge window, 23 Nov 2024) gave do_huge_pmd_wp_page a
first try for a PMD that maps the huge zero page: do_huge_zero_wp_pmd allocates a THP and maps it by the PMD
(map_anon_folio_pmd_pf: zero-filled, exclusive, writable where VM_WRITE), for a write and for an unsharing
fault alike; only when no THP can be had does it fall back to splitting the PMD as before (read in the 7.1.5
tree, mm/huge_memory.c). The world's allocations never fail, so the fallback is not taken from here on.
"""

from modelcheck.cow.policies.large_swapin_6_11 import LargeSwapin611Policy
from modelcheck.cow.policies.mapcount import Pre2020Rule
from modelcheck.cow.policies.pieces import commit, era


@commit("1ced09e0331f", "mm: allocate THP on hugezeropage wp-fault", "v6.13",
        "a write or unsharing fault on the huge zero page's PMD maps a fresh THP there instead of splitting it")
class ThpOnHugeZeroPageFault(Pre2020Rule):
    """do_huge_zero_wp_pmd: a THP in place of the huge zero page, mapped by the same PMD."""

    huge_zero_fault_maps_thp = True


HugeZeroThp613Policy = era("huge_zero_thp_6_13", "v6.13", LargeSwapin611Policy, [ThpOnHugeZeroPageFault],
                           summary="large_swapin_6_11, and a write fault on the huge zero page maps a fresh THP")
POLICY = HugeZeroThp613Policy()
