"""Kernel events that interleave with everything: speculative references, LRU batches, page locks."""

from __future__ import annotations

from modelcheck.cow.layout import PAGE_LOCKED, PAGE_LRU_BATCH


class KernelEvents:
    """Mixed into ``CowModel``."""

    def op_spec(self, t: list[int], page: int, delta: int) -> str:
        """get_page_unless_zero() on a page someone else looked up (+1), or its put (-1)."""
        t[self.layout.spec_base + page] += delta
        if delta < 0:
            self.release(t, page)
        return "spec_get" if delta > 0 else "spec_put"

    def op_lru_drain(self, t: list[int], page: int) -> str:
        """The per-CPU LRU batch holding the page is drained: its reference goes."""
        t[self.layout.flags_base + page] &= ~PAGE_LRU_BATCH
        self.release(t, page)
        return "lru_drain"

    def op_page_lock(self, t: list[int], page: int, lock: bool) -> str:
        """Some other kernel path (reclaim, migration, KSM) takes or drops the page lock."""
        i = self.layout.flags_base + page
        t[i] = t[i] | PAGE_LOCKED if lock else t[i] & ~PAGE_LOCKED
        return "lock_page" if lock else "unlock_page"
