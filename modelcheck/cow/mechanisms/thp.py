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

from dataclasses import dataclass

from modelcheck.cow.kernel import Kernel, Machine, MutableSlots, Slots
from modelcheck.cow.layout import OWNERS_SHARED, PAGE_EXCLUSIVE, owner_ids, pte_page
from modelcheck.cow.mechanisms.memory import folio_pages, mapcount, mm_mappings, pmd_mappings


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


# the branch of an operation that splits the VMA in the THP's range (declared alike by each that can)
PMD_SPLIT_BY_VMA = ("vma_pmd_split", "part of the PMD-mapped THP's range changes: the VMA is split there and the "
                                     "PMD with it (split_huge_pmd_address)")


def split_part_of_pmd(m: Machine, t: MutableSlots, proc: int, addr: int) -> str:
    """An operation on one address of the PMD-mapped THP's range (mprotect, madvise) splits the VMA there, and
    the PMD with it (vma_adjust_trans_huge: split_huge_pmd_address): "vma_pmd_split+" where it did."""
    if m.folios_on and pmd_mapped(m, t, proc, addr):
        split_pmd(m, t, proc)
        return "vma_pmd_split+"
    return ""


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


# -- MM-owner tracking (6af8cb80d3a9, v6.15: include/linux/rmap.h, the 7.1.5 tree) -------------------------------

@dataclass
class OwnerSlots:
    """A large folio's two MM-owner slots (the mm each holds, as process + 1, and its mapcount there) and its
    "maybe mapped shared" bit, packed in ``owners[head]`` as ids in 3 bits each and counts in 4."""

    ids: list[int]
    counts: list[int]
    shared: bool

    @classmethod
    def unpack(cls, word: int) -> OwnerSlots:
        return cls(list(owner_ids(word)), [word >> 6 & 15, word >> 10 & 15], bool(word & OWNERS_SHARED))

    def pack(self) -> int:
        return (self.ids[0] | self.ids[1] << 3 | min(self.counts[0], 15) << 6 | min(self.counts[1], 15) << 10
                | (OWNERS_SHARED if self.shared else 0))

    def add(self, mm: int, diff: int, others: int) -> None:
        """folio_add_return_large_mapcount: an mm that owns a slot adds to it; else it takes slot 0 if free,
        then slot 1, and the folio becomes maybe-shared if others (``others``: the mappings it had) map it;
        with no free slot only the total changes (and the bit is already set: two other MMs own slots)."""
        if mm in self.ids:
            self.counts[self.ids.index(mm)] += diff
            return
        for n in (0, 1):
            if not self.ids[n]:
                self.ids[n], self.counts[n] = mm, diff
                if others:
                    self.shared = True
                return

    def sub(self, mm: int, diff: int, total: int) -> None:
        """folio_sub_return_large_mapcount: subtract from the mm's slot and free it at zero; then the folio is no
        longer maybe-shared iff one slot alone holds every mapping left (``total``)."""
        if mm in self.ids:
            n = self.ids.index(mm)
            self.counts[n] -= diff
            if self.counts[n] <= 0:
                self.ids[n], self.counts[n] = 0, 0
        if self.shared and any(self.ids[n] and self.counts[n] == total for n in (0, 1)):
            self.shared = False


def track_mm_owners(m: Machine, before: Slots, after: MutableSlots) -> None:
    """After a step, the MM-owner slots of every large folio follow the mappings the step took away or added,
    per mm (a step changes one mm's mappings of a folio: fork the child's, an unmapping or a fault the
    faulting mm's; a split adds the PTEs of the pages but the PMD)."""
    L = m.layout
    for g in range(L.pages):
        code = after[L.folio_base + g]
        if not code or code & 7:  # not the head of a large folio
            continue
        pages = folio_pages(m, after, g)
        old = before[L.folio_base + g] == code
        slots = OwnerSlots.unpack(after[L.owners_base + g] if old else 0)
        total = sum(mm_mappings(m, before, pages, p) for p in range(L.processes)) if old else 0
        changes = [(p, mm_mappings(m, after, pages, p) - (mm_mappings(m, before, pages, p) if old else 0))
                   for p in range(L.processes)]
        for p, diff in changes:  # unmappings first, then mappings
            if diff < 0:
                total += diff
                slots.sub(p + 1, -diff, total)
        for p, diff in changes:
            if diff > 0:
                slots.add(p + 1, diff, total)
                total += diff
        after[L.owners_base + g] = slots.pack()


def sync_mm_owners(k: Kernel, t: MutableSlots) -> None:
    """Bring the owner slots up to date with the mappings the step has changed so far, as the kernel's rmap
    functions update them when they map (folio_add_anon_rmap_ptes): for a mechanism that maps a large folio and
    then decides on it in the same step (a swap-in fault followed by its write fault). The step's own update
    then goes on from here."""
    if k.owners_synced:
        track_mm_owners(k, k.owners_synced[0], t)
        k.owners_synced[0] = tuple(t[i] for i in range(len(t)))
