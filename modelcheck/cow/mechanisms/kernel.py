"""Kernel events that interleave with everything: speculative references and LRU batches."""

from __future__ import annotations

from modelcheck.cow.layout import PAGE_LRU_BATCH


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
