"""Pages: who holds them, their derived counters, allocation and freeing, value tags."""

from __future__ import annotations

from typing import Sequence

from modelcheck.cow.layout import (MM_HAS_PINNED, PAGE_EXCLUSIVE, PAGE_LOCKED, PAGE_LRU_BATCH, PAGE_SWAPCACHE,
                                   PTE_SWAP, Layout, pte_key)
from modelcheck.cow.policies import GUP_PIN_COUNTING_BIAS, PageInfo, Policy


LRU_BATCH_SIZE = 2  # pages a per-CPU LRU batch holds before it is drained (a kernel pagevec holds 15)


class ValueTags:
    """Value codes name the write that produced a value.

    Open worlds (the reference world): 1 + n is the parent's write after its
    n-th fork (1 = the initial contents), P + i a write by child i.
    Scripted worlds: 1 + k*P + n is the k-th write operation of the scenario
    (k = 0: the initial contents), done by the parent after n forks (n = 0
    for a child's write), so that every write is told apart.
    """

    def __init__(self, processes: int, writers: Sequence[tuple[int, str]] | None = None) -> None:
        self.P = processes
        self.writers = writers  # scripted: (process, "thread step n: operation") per write, index k - 1

    def code(self, proc: int, nforks: int, write_op: int = 0) -> int:
        if self.writers is None:
            return 1 + nforks if proc == 0 else self.P + proc
        return 1 + write_op * self.P + (nforks if proc == 0 else 0)

    def decode(self, code: int) -> tuple[int, int]:
        """(writer process, forks before the write) as reference-world.md pairs them."""
        if code <= 0:
            raise ValueError("a free page has no value")
        if self.writers is None:
            return (0, code - 1) if code <= self.P else (code - self.P, 0)
        k, n = divmod(code - 1, self.P)
        return (0, 0) if k == 0 else (self.writers[k - 1][0], n)

    def words(self, code: int) -> str:
        if code <= 0:
            return "nothing (a free page)"
        writer, n = self.decode(code)
        if self.writers is None or (code - 1) // self.P == 0:
            if writer == 0:
                return f"({writer},{n}) " + ("[initial contents]" if n == 0 else f"[the parent's write after fork {n}]")
            return f"({writer},{n}) [a write by child{writer}]"
        k = (code - 1) // self.P
        after = f", after fork {n}" if writer == 0 and n else ""
        return f"[{self.writers[k - 1][1]}{after}]"


class Memory:
    """Derived counters and page life cycle; mixed into ``CowModel``."""

    layout: Layout
    policy: Policy
    tags: ValueTags
    _holder_weights: tuple[tuple[int, int], ...]  # (state index, references it counts for)
    _lru_on: bool
    _pte_flag_bits: bool  # PTEs may carry soft-dirty or uffd-wp bits besides the write bit
    _swap_on: bool        # pages may be in the swap cache and PTEs may be swap entries

    def mapcount(self, s: Sequence[int], page: int) -> int:
        L = self.layout
        ptes = s[L.pte_base:L.pipe_base]
        key = pte_key(page)
        count = ptes.count(key) + ptes.count(key | 1)
        if self._pte_flag_bits:
            count += sum(ptes.count(key | bits) for bits in range(2, 8))
        return count

    def refcount(self, s: Sequence[int], page: int) -> int:
        """Every holder of the page: mappings, pipe buffers, GUP references, speculative and LRU-batch
        references, the swap cache, and a copy fault in flight."""
        return self.mapcount(s, page) + self._other_holders(s, page)

    def _other_holders(self, s: Sequence[int], page: int) -> int:
        """References that are not mappings (refcount = mapcount + these)."""
        L = self.layout
        count = 0
        if L.pipe_base != L.value_base:
            count += s[L.pipe_base:L.value_base].count(page + 1)
        if L.speculative:
            count += s[L.spec_base + page]
        for index, weight in self._holder_weights:
            if s[index] == page + 1:
                count += weight
        if self._lru_on and s[L.flags_base + page] & PAGE_LRU_BATCH:
            count += 1
        if self._swap_on and s[L.flags_base + page] & PAGE_SWAPCACHE:
            count += 1
        if L.features.tlb:  # a copy fault in flight holds the old page and its copy
            for w in s[L.fault_base:L.fault_base + L.features.threads]:
                if w and ((w & 255) == page + 1 or (w >> 8) == page + 1):
                    count += 1
        return count

    def swapcount(self, s: Sequence[int], page: int) -> int:
        """Swap PTEs that name the page's swap slot."""
        if not self._swap_on:
            return 0
        L = self.layout
        key = pte_key(page)
        return sum(1 for c in s[L.pte_base:L.pipe_base] if c & PTE_SWAP and key <= c < key + 32)

    def page_flags(self, s: Sequence[int], page: int) -> int:
        L = self.layout
        return s[L.flags_base + page] if L.features.pageflags else 0

    def info(self, s: Sequence[int], page: int, proc: int = 0) -> PageInfo:
        L = self.layout
        flags = self.page_flags(s, page)
        has_pinned = bool(L.features.mm and s[L.mm_base + proc] & MM_HAS_PINNED)
        mapcount = self.mapcount(s, page)
        refcount = mapcount + self._other_holders(s, page)
        if self._decisions is not None:  # symbolic references: the policy sees known + unknown ones
            refcount = self.symbolic_count(refcount, page, s)
        return PageInfo(mapcount=mapcount, refcount=refcount,
                        exclusive=bool(flags & PAGE_EXCLUSIVE), in_lru_batch=bool(flags & PAGE_LRU_BATCH),
                        has_pinned=has_pinned, in_swapcache=bool(flags & PAGE_SWAPCACHE),
                        swapcount=self.swapcount(s, page), locked=bool(flags & PAGE_LOCKED))

    def release(self, t: list[int], page: int) -> None:
        """A holder of ``page`` let go: free it when nothing references it any more.

        A swap-cache page that no swap PTE names and nothing else holds leaves
        the swap cache (its slot is freed) and is freed too.
        """
        L = self.layout
        if (self._swap_on and t[L.flags_base + page] & PAGE_SWAPCACHE and self.refcount(t, page) == 1
                and self.swapcount(t, page) == 0):
            t[L.flags_base + page] &= ~PAGE_SWAPCACHE
        if self.refcount(t, page) == 0:
            L = self.layout
            C = L.features.cells
            start = L.value_base + page * C
            t[start:start + C] = [0] * C
            if L.features.pageflags:
                t[L.flags_base + page] = 0
            for k in range(L.features.held):
                # references held outside the scenario: once the scenario lets go of their page nothing in
                # it can reach the page again, so they no longer count (their slot would be reused)
                if t[L.held_base + 3 * k] == page + 1:
                    t[L.held_base + 3 * k:L.held_base + 3 * k + 3] = [0, 0, 0]

    def copy_page(self, t: list[int], source: int) -> int:
        """Take the lowest free page slot and copy ``source`` into it.

        A fresh anonymous page is exclusive (for policies that track it) and
        starts in the local LRU batch (when the world has LRU batches).
        """
        L = self.layout
        C = L.features.cells
        vb = L.value_base
        if self._lru_on:
            self._drain_if_full(t)
        for page in range(L.pages):
            if t[vb + page * C] == 0:
                t[vb + page * C:vb + page * C + C] = t[vb + source * C:vb + source * C + C]
                if L.features.pageflags:
                    t[L.flags_base + page] = ((PAGE_EXCLUSIVE if self.policy.uses_exclusive else 0)
                                              | (PAGE_LRU_BATCH if self._lru_on else 0))
                return page
        raise RuntimeError("no free page slot: the world's page budget is too small")

    def _drain_if_full(self, t: list[int]) -> None:
        """A full per-CPU LRU batch is drained before another page goes in (as a full pagevec is)."""
        L = self.layout
        batched = [g for g in range(L.pages) if t[L.flags_base + g] & PAGE_LRU_BATCH]
        if len(batched) >= LRU_BATCH_SIZE:
            for g in batched:
                t[L.flags_base + g] &= ~PAGE_LRU_BATCH
                self.release(t, g)

    def page_live(self, s: Sequence[int], page: int) -> bool:
        return s[self.layout.value_index(page)] != 0

    def set_exclusive(self, t: list[int], page: int, on: bool) -> None:
        if self.policy.uses_exclusive:
            i = self.layout.flags_base + page
            t[i] = t[i] | PAGE_EXCLUSIVE if on else t[i] & ~PAGE_EXCLUSIVE

    def pin_weight(self, pin: bool) -> int:
        return GUP_PIN_COUNTING_BIAS if pin else 1
