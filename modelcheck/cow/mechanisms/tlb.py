"""TLBs: cached translations that can be stale, flushes, and write-protection with a deferred flush.

Each thread runs on its own CPU. A store whose CPU caches a writable
translation goes straight to that page (the PTE is not looked at), so a PTE
that was write-protected but not yet flushed is no protection. The kernel's
write-protecting paths therefore change PTEs, raise mm->tlb_flush_pending, and
flush in a second step before the system call returns (clear_refs before
912efa17e512 did not flush at all). The CPU accesses through a TLB are in
``cpu``, the copy fault in two steps in ``faults``.

An operation split in steps keeps its thread at the same program counter;
``step`` counts how far it got.
"""

from __future__ import annotations

from typing import Any, Callable

from modelcheck.cow.kernel import Kernel, Machine, MutableSlots, Slots
from modelcheck.cow.layout import MM_FLUSH_PENDING, PTE_SWAP, PTE_WRITE, pte_page

PARTIAL = frozenset({"copy_start", "copy_retry", "flush_pending"})  # branches that leave the thread mid-operation


def tlb_index(m: Machine, thread: int, addr: int) -> int:
    L = m.layout
    return L.tlb_base + thread * L.addresses + addr


def tlb_fill(m: Machine, t: MutableSlots, thread: int, proc: int, addr: int) -> None:
    pte = t[m.layout.pte_index(proc, addr)]
    present = pte and not pte & PTE_SWAP
    t[tlb_index(m, thread, addr)] = ((pte_page(pte) + 1) << 1 | (pte & PTE_WRITE)) if present else 0


def flush_address(m: Machine, t: MutableSlots, proc: int, addr: int) -> None:
    """flush_tlb_page on every CPU running the mm (a no-op in a world without TLBs)."""
    if m.layout.features.tlb:
        for thread in m.threads_of[proc]:
            t[tlb_index(m, thread, addr)] = 0


def flush_mm(m: Machine, t: MutableSlots, proc: int) -> None:
    if m.layout.features.tlb:
        for addr in range(m.layout.addresses):
            flush_address(m, t, proc, addr)


def flush_pending(m: Machine, t: Slots, proc: int) -> bool:
    return t[m.layout.mm_base + proc] >= MM_FLUSH_PENDING


def tlb_page(m: Machine, s: Slots, thread: int, addr: int) -> int:
    """The page a CPU reaches through its cached translation, or -1."""
    return (s[tlb_index(m, thread, addr)] >> 1) - 1


def two_step(k: Kernel, t: MutableSlots, thread: int, proc: int, change: Callable[..., str | None],
             flush_addr: int, *args: Any) -> str | None:
    """First the PTE change under the lock with tlb_flush_pending raised; then the flush, and return."""
    L = k.layout
    si = L.step_base + thread
    if t[si] == 0:
        branch = change(k, t, *args)
        if branch is None:
            return None
        t[L.mm_base + proc] += MM_FLUSH_PENDING
        t[si] = 1
        return branch + "+flush_pending"
    t[si] = 0
    t[L.mm_base + proc] -= MM_FLUSH_PENDING
    if flush_addr < 0:
        flush_mm(k, t, proc)
    else:
        flush_address(k, t, proc, flush_addr)
    return "tlb_flush"
