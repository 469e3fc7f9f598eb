"""CPU accesses: stores and loads, straight through the page tables or through a TLB that can be stale.

A store whose CPU caches a writable translation goes straight to that page
without looking at the PTE; otherwise it walks the page tables and may fault
(``faults``). A copying write fault through a TLB completes the store only when
the copy is installed, a step later.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Callable

from modelcheck.cow.kernel import Kernel, MutableSlots
from modelcheck.cow.layout import PTE_SWAP, PTE_UFFD_WP, PTE_WRITE, TLB_WRITE, pte_page
from modelcheck.cow.mechanisms.faults import (LargeReuseInTwoLooks, WriteFaultBranch, fault_first_step, first_touch,
                                              huge_fault, install_copy, large_fault_first_look,
                                              large_fault_second_look, uffd_wp_async, vma_writable, write_fault)
from modelcheck.cow.mechanisms.fork import faults_run_during_fork, fork_in_progress
from modelcheck.cow.mechanisms.ghost import record_write
from modelcheck.cow.mechanisms.memory import info
from modelcheck.cow.mechanisms.swap import swap_in
from modelcheck.cow.mechanisms.tlb import tlb_fill, tlb_index
from modelcheck.cow.mechanisms.thp import huge_mapcounts, pmd_head, pmd_mapped
from modelcheck.cow.registry import Branch, batch_twin, in_steps, mechanism, operation, outcome, through_tlb



class Access(Branch):
    WRITE = outcome("write")  # through a writable PTE
    READ = outcome("read")
    TLB_WRITE = "tlb_write", "the store goes through a cached writable TLB entry, without looking at the PTE"
    TLB_READ = outcome("tlb_read", "the load goes through a cached TLB entry")


Fault = Callable[[Kernel, MutableSlots, int, int], "str | None"]


@mechanism(Access)
@batch_twin("ReferenceBatch._writes")
def store_walk(k: Kernel, t: MutableSlots, proc: int, addr: int, fault: Fault) -> str | None:
    """The page-table side of a store: swap in, go through a writable PTE, or ``fault(k, t, proc, addr)``.

    None when the store cannot proceed: nothing mapped, a synchronous uffd-wp
    PTE (the thread waits for UFFDIO_WRITEPROTECT off; an async one faults and
    the fault clears the bit) or no VM_WRITE (SIGSEGV).
    """
    i = k.layout.pte_index(proc, addr)
    pte = t[i]
    if not pte:
        if addr in k.fresh_addrs and vma_writable(k, t, proc, addr):  # never touched: do_anonymous_page
            return first_touch(k, t, proc, addr, write=True)
        return None
    if not pte & PTE_WRITE and (pte & PTE_UFFD_WP and not uffd_wp_async(k, t, proc, addr)
                                or not vma_writable(k, t, proc, addr)):
        return None
    prefix = ""
    if pte & PTE_SWAP:
        prefix = swap_in(k, t, proc, addr, write=True) + "+"
        pte = t[i]
        if pte & PTE_WRITE:
            return prefix.rstrip("+")
    if pte & PTE_WRITE:
        return "write"
    branch = fault(k, t, proc, addr)
    return None if branch is None else prefix + branch


@operation("store aN", Access, summary="CPU store (a write fault when the PTE is write-protected); a0.1 names "
           "another part of the same page (a page holds one value per part the scenario uses)",
           expects=(WriteFaultBranch.REUSE, WriteFaultBranch.COPY))
@batch_twin("ReferenceBatch._writes")
def op_store(k: Kernel, t: MutableSlots, proc: int, addr: int, cell: int, tag: int) -> str | None:
    """A CPU store (no TLB in the world): through a writable PTE, or a write fault."""
    if k.fork_in_steps and waits_for_fork(k, t, proc, addr):
        return None
    branch = store_walk(k, t, proc, addr, write_fault)
    if branch is None:
        return None
    L = k.layout
    t[L.value_index(pte_page(t[L.pte_index(proc, addr)]), cell)] = tag
    record_write(k, t, proc, addr, tag, cell)
    return branch


class MapcountRead(Branch):
    """A store's write fault on a PMD-mapped THP whose mapcounts the fault reads apart from a split elsewhere
    (before c444eb564fb1)."""

    THP_MAPCOUNT_READ = outcome("thp_mapcount_read", "the write fault on the PMD-mapped THP has read its pages' "
                                "mapcounts (page_trans_huge_mapcount, under the page lock, which a split in "
                                "another mm does not take); it reads DoubleMap and the compound mapcount next",
                                partial=True)


@in_steps("store")
@mechanism(MapcountRead, Access, LargeReuseInTwoLooks)
def store_in_steps(k: Kernel, t: MutableSlots, thread: int, proc: int, addr: int, cell: int, tag: int) -> str | None:
    """A store in a world with a THP whose split takes no page lock (before c444eb564fb1, CVE-2020-29368):
    a write fault on the write-protected PMD reads the pages' mapcounts in one step and DoubleMap and the
    compound mapcount in the next, where another process's split of its own PMD may have moved the compound
    count into the pages' between; the policy decides on the sum the fault read. Where 6.15's reuse of a
    large folio reads its counters in two looks, the store is ``store_rechecking_large_folio``."""
    if k.large_reuse_in_steps:
        return store_rechecking_large_folio(k, t, thread, proc, addr, cell, tag)
    L = k.layout
    si = L.step_base + thread
    pte = t[L.pte_index(proc, addr)]
    if not t[si]:
        if pte and not pte & PTE_WRITE and pmd_mapped(k, t, proc, addr):
            t[si] = 1 + huge_mapcounts(k, t, pmd_head(k, t, proc))[0]
            return "thp_mapcount_read"
        return op_store(k, t, proc, addr, cell, tag)
    pages_read, t[si] = t[si] - 1, 0
    if not pmd_mapped(k, t, proc, addr) or pte & PTE_WRITE:
        return op_store(k, t, proc, addr, cell, tag)
    head = pmd_head(k, t, proc)
    _, double, pmds = huge_mapcounts(k, t, head)
    seen = replace(info(k, t, head, proc), mapcount=pages_read - double + pmds)
    branch = huge_fault(k, t, proc, addr, unshare=False, seen=seen)
    if branch is None:
        return None
    t[L.value_index(pte_page(t[L.pte_index(proc, addr)]), cell)] = tag
    record_write(k, t, proc, addr, tag, cell)
    return branch


def store_rechecking_large_folio(k: Kernel, t: MutableSlots, thread: int, proc: int, addr: int, cell: int,
                                 tag: int) -> str | None:
    """A store whose write fault on a large folio looks at its counters without the lock and then under it
    (``faults.large_fault_first_look``), another process's steps or a speculative reference between."""
    L = k.layout
    branch: str | None
    if t[L.step_base + thread]:
        branch = large_fault_second_look(k, t, thread, proc, addr)
        if branch is None:
            return op_store(k, t, proc, addr, cell, tag)
    else:
        branch = store_walk(k, t, proc, addr, lambda k, t, proc, addr: large_fault_first_look(k, t, thread, proc,
                                                                                               addr))
        if branch is None or branch.endswith("large_reuse_unlocked"):
            return branch
    t[L.value_index(pte_page(t[L.pte_index(proc, addr)]), cell)] = tag
    record_write(k, t, proc, addr, tag, cell)
    return branch


def waits_for_fork(k: Kernel, t: MutableSlots, proc: int, addr: int) -> bool:
    """An access of the parent that faults (a R/O PTE for a store, a swap entry) waits while fork holds
    mmap_lock, in a world that runs fork in steps (without TLBs: what is writable is written at once)."""
    pte = t[k.layout.pte_index(proc, addr)]
    return proc == 0 and bool(not pte & PTE_WRITE or pte & PTE_SWAP) and fork_in_progress(k, t)


@operation("load aN", Access, summary="CPU load: the thread observes the value")
def op_load(k: Kernel, t: MutableSlots, proc: int, addr: int) -> str | None:
    pte = t[k.layout.pte_index(proc, addr)]
    if pte & PTE_SWAP and k.fork_in_steps and waits_for_fork(k, t, proc, addr):
        return None
    if not pte and addr in k.fresh_addrs:  # never touched: the zero page goes in, and the load reads it
        return first_touch(k, t, proc, addr, write=False) + "+read"
    if pte & PTE_SWAP:
        return swap_in(k, t, proc, addr, write=False) + "+read"
    return "read" if pte else None


@through_tlb("load")
def op_tlb_load(k: Kernel, t: MutableSlots, thread: int, proc: int, addr: int) -> str | None:
    if t[tlb_index(k, thread, addr)]:
        return "tlb_read"
    pte = t[k.layout.pte_index(proc, addr)]
    if not pte:
        return None
    if pte & PTE_SWAP and proc == 0 and fork_in_progress(k, t) and not faults_run_during_fork(k):
        return None  # the swap-in fault waits for fork
    branch = swap_in(k, t, proc, addr, write=False) + "+read" if pte & PTE_SWAP else "read"
    tlb_fill(k, t, thread, proc, addr)
    return branch


@through_tlb("store")
def op_tlb_store(k: Kernel, t: MutableSlots, thread: int, proc: int, addr: int, cell: int, tag: int) -> str | None:
    L = k.layout
    if t[L.fault_base + thread]:
        return install_copy(k, t, thread, proc, addr, cell, tag)
    entry = t[tlb_index(k, thread, addr)]
    if entry & TLB_WRITE:  # a cached writable translation: the PTE is not looked at
        t[L.value_index((entry >> 1) - 1, cell)] = tag
        record_write(k, t, proc, addr, tag, cell)
        return "tlb_write"
    pte = t[L.pte_index(proc, addr)]
    if (proc == 0 and (not pte & PTE_WRITE or pte & PTE_SWAP) and fork_in_progress(k, t)
            and not faults_run_during_fork(k)):
        return None  # the fault waits for fork's mmap_lock (or, from fb49c455323f, its VMA lock)
    branch = store_walk(k, t, proc, addr, lambda k, t, proc, addr: fault_first_step(k, t, thread, proc, addr))
    if branch is None or branch.endswith("copy_start"):
        return branch  # a copying fault completes the store when the copy is installed
    i = L.pte_index(proc, addr)
    t[L.value_index(pte_page(t[i]), cell)] = tag
    record_write(k, t, proc, addr, tag, cell)
    tlb_fill(k, t, thread, proc, addr)
    return branch
