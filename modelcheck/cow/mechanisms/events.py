"""Kernel events that interleave with everything: speculative references, LRU batches, page locks."""

from __future__ import annotations

from modelcheck.cow.kernel import Kernel, MutableSlots
from modelcheck.cow.layout import PAGE_LOCKED, PAGE_LRU_BATCH
from modelcheck.cow.mechanisms.memory import release


def op_spec(k: Kernel, t: MutableSlots, page: int, delta: int) -> str:
    """get_page_unless_zero() on a page someone else looked up (+1), or its put (-1)."""
    t[k.layout.spec_base + page] += delta
    if delta < 0:
        release(k, t, page)
    return "spec_get" if delta > 0 else "spec_put"


def op_lru_drain(k: Kernel, t: MutableSlots, page: int) -> str:
    """The per-CPU LRU batch holding the page is drained: its reference goes."""
    t[k.layout.flags_base + page] &= ~PAGE_LRU_BATCH
    release(k, t, page)
    return "lru_drain"


def op_page_lock(k: Kernel, t: MutableSlots, page: int, lock: bool) -> str:
    """Some other kernel path (reclaim, migration, KSM) takes or drops the page lock."""
    i = k.layout.flags_base + page
    t[i] = t[i] | PAGE_LOCKED if lock else t[i] & ~PAGE_LOCKED
    return "lock_page" if lock else "unlock_page"
