"""Kernel events that interleave with everything: speculative references, LRU batches, page locks."""

from __future__ import annotations

from modelcheck.cow.kernel import Kernel, MutableSlots
from modelcheck.cow.layout import PAGE_LOCKED
from modelcheck.cow.mechanisms.memory import drain_lru_batch, lru_cpu_of, release
from modelcheck.cow.registry import Branch, batch_twin, mechanism, outcome


class Event(Branch):
    SPEC_GET = outcome("spec_get")
    SPEC_PUT = outcome("spec_put")
    LRU_DRAIN = "lru_drain"  # (its words are the write fault's, which drains the batch too)
    LOCK_PAGE = outcome("lock_page")
    UNLOCK_PAGE = outcome("unlock_page")


@mechanism(Event)
@batch_twin("ReferenceBatch._speculative")
def op_spec(k: Kernel, t: MutableSlots, page: int, delta: int) -> str:
    """get_page_unless_zero() on a page someone else looked up (+1), or its put (-1)."""
    t[k.layout.spec_base + page] += delta
    if delta < 0:
        release(k, t, page)
    return "spec_get" if delta > 0 else "spec_put"


@mechanism(Event)
def op_lru_drain(k: Kernel, t: MutableSlots, page: int) -> str:
    """The per-CPU LRU batch holding the page is drained (lru_add_drain_cpu: that CPU's next drain, or
    lru_add_drain_all from elsewhere): every page of that batch loses the batch's reference."""
    drain_lru_batch(k, t, lru_cpu_of(k, t, page))
    return "lru_drain"


@mechanism(Event)
def op_page_lock(k: Kernel, t: MutableSlots, page: int, lock: bool) -> str:
    """Some other kernel path (reclaim, migration, KSM) takes or drops the page lock."""
    i = k.layout.flags_base + page
    t[i] = t[i] | PAGE_LOCKED if lock else t[i] & ~PAGE_LOCKED
    return "lock_page" if lock else "unlock_page"
