"""Symmetry: physical page slots are interchangeable.

Nothing the kernel decides, and nothing an invariant checks, depends on which
slot holds a page; only which references share a page matters. So two states
that differ by a renaming of page slots behave alike, and a search may keep one
representative per renaming (``--reduce``). The representative numbers pages
in the order a fixed scan first meets them: every PTE (present or swap), pipe,
GUP reference, TLB entry and copy fault in flight; pages none of those name
(held only by speculative references, the LRU batch or the page lock) follow,
ordered by their contents, which is just as independent of the slot numbers.

reference-world.md counts states *with* slot numbers, so its figures hold only
without reduction. The shared zero page (worlds with fresh addresses) and a
file's page in the page cache (worlds with file mappings) are no anonymous
pages and keep their slot, the last: only the others are renamed.
"""

from __future__ import annotations

from modelcheck.cow.layout import PTE_SHIFT, PTE_FLAG_MASK, Layout, pte_key, pte_page
from modelcheck.cow.registry import batch_twin


class PageSymmetry:
    """``canonical(state)``: the representative of the state's renamings of page slots."""

    def __init__(self, layout: Layout, zero_page: int = -1) -> None:
        self.layout = L = layout
        self._zero = zero_page  # the last slot, or -1
        self._plain = PageSymmetry(layout) if zero_page >= 0 else self  # the renaming of the other pages
        f = L.features
        self._sym_ptes = range(L.pte_base, L.pipe_base)
        self._sym_pte_span = (L.pte_base, L.pipe_base)
        self._sym_slots = (tuple(range(L.pipe_base, L.value_base))
                           + tuple(range(L.holder_base, L.holder_base + f.holders))
                           + tuple(range(L.held_base, L.held_base + 3 * f.held, 3)))
        self._sym_tlb = range(L.tlb_base, L.tlb_base + (f.threads * L.addresses if f.tlb else 0))
        self._sym_faults = range(L.fault_base, L.fault_base + (f.threads if f.tlb else 0))
        # per-page arrays: (first index, values per page)
        arrays = [(L.value_base, f.cells)]
        if f.speculative:
            arrays.append((L.spec_base, 1))
        if f.pageflags:
            arrays.append((L.flags_base, 1))
        self._sym_arrays = tuple(arrays)
        self._identity = list(range(L.pages))

    @batch_twin("ReferenceBatch.canonical_rows", "page_order")
    def canonical(self, s: tuple) -> tuple:
        L = self.layout
        rank: dict[int, int] = {}
        zero = self._zero
        if zero >= 0:
            return self._canonical_around_zero(s)
        setdefault = rank.setdefault
        pte_from, pte_to = self._sym_pte_span
        for c in s[pte_from:pte_to]:
            if c:
                setdefault((c >> PTE_SHIFT) - 1, len(rank))  # pte_page, inlined: this runs on every successor
        for i in self._sym_slots:
            if s[i]:
                setdefault(s[i] - 1, len(rank))
        for i in self._sym_tlb:
            if s[i]:
                setdefault((s[i] >> 1) - 1, len(rank))
        for i in self._sym_faults:
            w = s[i]
            if w:
                setdefault((w & 255) - 1, len(rank))
                setdefault((w >> 8) - 1, len(rank))
        C = L.features.cells
        vb = L.value_base
        loose = [g for g in range(L.pages) if s[vb + g * C] and g not in rank]
        if loose:
            loose.sort(key=lambda g: tuple(s[base + g * n: base + g * n + n] for base, n in self._sym_arrays))
            for g in loose:
                rank[g] = len(rank)
        order = list(rank)
        if order == self._identity[:len(order)]:
            return s  # already the representative
        t = list(s)
        for i in self._sym_ptes:
            c = s[i]
            if c:
                t[i] = pte_key(rank[pte_page(c)]) | (c & PTE_FLAG_MASK)
        for i in self._sym_slots:
            if s[i]:
                t[i] = rank[s[i] - 1] + 1
        for i in self._sym_tlb:
            if s[i]:
                t[i] = (rank[(s[i] >> 1) - 1] + 1) << 1 | (s[i] & 1)
        for i in self._sym_faults:
            w = s[i]
            if w:
                t[i] = (rank[(w & 255) - 1] + 1) | (rank[(w >> 8) - 1] + 1) << 8
        for base, n in self._sym_arrays:
            block = [0] * (L.pages * n)
            for g, r in rank.items():
                block[r * n:r * n + n] = s[base + g * n:base + g * n + n]
            t[base:base + L.pages * n] = block
        return tuple(t)

    def _canonical_around_zero(self, s: tuple) -> tuple:
        """``canonical`` with the fixed page's slot held fixed (the zero page, or a file's page in the page
        cache): the state without its references (PTEs, and the pipes and GUP references that hold it) is
        renamed, then they are put back (the other pages take the lower slots, so it keeps the last)."""
        zero = self._zero
        key = pte_key(zero)
        zero_ptes = [i for i in self._sym_ptes if s[i] and pte_page(s[i]) == zero]
        zero_slots = [i for i in self._sym_slots if s[i] == zero + 1]
        if not zero_ptes and not zero_slots:
            return self._without_zero(s)
        t = list(s)
        for i in zero_ptes + zero_slots:
            t[i] = 0
        renamed = list(self._without_zero(tuple(t)))
        for i in zero_ptes:
            renamed[i] = key | (s[i] & PTE_FLAG_MASK)
        for i in zero_slots:
            renamed[i] = zero + 1
        return tuple(renamed)

    def _without_zero(self, s: tuple) -> tuple:
        """``canonical`` of a state whose only reference to the zero page is its contents."""
        zero = self._zero
        L = self.layout
        C = L.features.cells
        start = L.value_base + zero * C
        hidden = s[start:start + C]
        t = list(s)
        t[start:start + C] = [0] * C  # out of the scan of loose pages
        out = list(self._plain.canonical(tuple(t)))
        out[start:start + C] = hidden
        return tuple(out)
