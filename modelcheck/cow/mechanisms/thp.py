"""A transparent huge page: one large folio at a0 .. a<thp-1>, mapped by a PMD or by PTEs.

The world's THP stands for a PMD's 512 pages with a few (``Features.thp``). A
process that maps the range with one PMD has ``pmd[p]`` set and its PTE slots
of the range name the folio's pages in order with the PMD's bits, so an access
reads them as it reads any PTE; the counters see one mapping of each page
(page_mapcount, the compound mapcount included) but one reference for the
whole PMD (``memory.folio_refcount``). Splitting the PMD (__split_huge_pmd)
clears ``pmd[p]``: the same entries are PTEs from then on, one reference each
(page_ref_add of the other pages), and from v5.19 every page takes the head's
PG_anon_exclusive (the 5.19 and 7.1.5 trees).
"""

from __future__ import annotations

from modelcheck.cow.kernel import Machine, MutableSlots, Slots
from modelcheck.cow.layout import PAGE_EXCLUSIVE, pte_page
from modelcheck.cow.mechanisms.memory import folio_pages, mapcount, pmd_mappings


def pmd_mapped(m: Machine, s: Slots, proc: int, addr: int) -> bool:
    """``addr`` of ``proc`` lies in the THP's range, mapped there by one PMD."""
    L = m.layout
    return addr < L.features.thp and bool(s[L.pmd_base + proc])


def pmd_head(m: Machine, s: Slots, proc: int) -> int:
    """The head page of the folio ``proc``'s PMD maps."""
    return pte_page(s[m.layout.pte_index(proc, 0)])


def split_pmd(m: Machine, t: MutableSlots, proc: int) -> None:
    """__split_huge_pmd_locked on ``proc``'s PMD: its entries become PTEs with its bits (write, soft-dirty,
    uffd-wp), one reference each instead of one for all (the counters follow from ``pmd``), and each page
    takes the head's PG_anon_exclusive (5.19 on; before, no page has the flag)."""
    L = m.layout
    t[L.pmd_base + proc] = 0
    if L.features.pageflags:
        pages = folio_pages(m, t, pmd_head(m, t, proc))
        exclusive = t[L.flags_base + pages[0]] & PAGE_EXCLUSIVE
        for g in pages[1:]:
            t[L.flags_base + g] = (t[L.flags_base + g] & ~PAGE_EXCLUSIVE) | exclusive


def zap_pmd(m: Machine, t: MutableSlots, proc: int) -> int:
    """zap_huge_pmd: the PMD and its entries go (one mapping of each page, one reference); the head page of
    the folio it mapped is returned (for its release)."""
    L = m.layout
    head = pmd_head(m, t, proc)
    t[L.pmd_base + proc] = 0
    for a in range(L.features.thp):
        t[L.pte_index(proc, a)] = 0
    return head


def huge_mapcounts(m: Machine, s: Slots, head: int) -> tuple[int, int, int]:
    """What page_trans_huge_mapcount sums (the 5.7 tree), as three separate reads: the most any page's own
    _mapcount says (its PTE mappings, plus one while DoubleMap is set), DoubleMap (the THP is mapped by a PMD
    and by PTEs at once), and the compound mapcount (its PMD mappings). The sum is the first less the second
    plus the third."""
    pmds = pmd_mappings(m, s, head)
    pages = folio_pages(m, s, head)
    ptes = [mapcount(m, s, g) - pmds for g in pages]
    double = int(pmds > 0 and any(ptes))
    return max(ptes) + double, double, pmds
