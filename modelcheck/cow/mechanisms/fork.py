"""fork() (dup_mmap / copy_present_pte, in two steps with TLBs), exit and munmap."""

from __future__ import annotations

from modelcheck.cow.kernel import Kernel, Machine, MutableSlots, Slots
from modelcheck.cow.layout import (GATHER_ENTIRE, GATHER_MAPPED, GATHER_REFERENCE, GATHER_SHIFT, MM_EXITED,
                                   PTE_SOFTDIRTY, PTE_SWAP, PTE_SWAP_EXCLUSIVE, PTE_WRITE, VMA_DONTFORK,
                                   VMA_WRITE, pte_make, pte_page)
from modelcheck.cow.mechanisms.ghost import clear_write_protect_request, forget_writes
from modelcheck.cow.mechanisms.gup import op_pipe_read, op_put
from modelcheck.cow.mechanisms.memory import copy_page, info, release, set_exclusive
from modelcheck.cow.mechanisms.mmap_lock import fork_in_progress
from modelcheck.cow.mechanisms.thp import pmd_head, pmd_mapped, split_pmd, zap_pmd
from modelcheck.cow.mechanisms.tlb import flush_address, flush_mm
from modelcheck.cow.policies import ForkPage
from modelcheck.cow.registry import Branch, batch_twin, in_steps, mechanism, operation, outcome, through_tlb


class ForkBranch(Branch):
    FORK_SHARE = "fork_share"
    FORK_COPY = "fork_copy", "fork copies a maybe-pinned page for the child ({policy})"
    FORK_THP_SHARE = ("fork_thp_share", "fork shares the PMD-mapped THP with the child: both PMDs "
                      "write-protected (copy_huge_pmd)")
    FORK_THP_SPLIT = ("fork_thp_split", "fork splits the maybe-pinned THP's PMD, and goes on page by page at PTE "
                      "level ({policy})")


class ForkInTwoSteps(Branch):
    """dup_mmap in a world with TLBs: the PTEs are copied, then the parent's TLB is flushed and mmap_lock dropped."""

    FORK_FLUSH_PENDING = outcome("fork_flush_pending", "the PTEs are copied; the parent's TLB is flushed only "
                                 "when fork is done (flush_tlb_mm in dup_mmap)", partial=True)
    FORK_FLUSH = outcome("fork_flush", "fork flushes the parent's TLB, drops mmap_lock and the child can run")


class Unmapping(Branch):
    EXIT = outcome("exit")
    MUNMAP = outcome("munmap")
    MUNMAP_THP = outcome("munmap_thp")
    PMD_SPLIT = ("pmd_split", "a part of the PMD-mapped THP is unmapped: the PMD is split into PTEs first "
                 "(__split_huge_pmd)")


@operation("fork", ForkBranch, summary="only the parent's threads fork; the i-th fork creates child<i>",
           expects=(ForkBranch.FORK_SHARE, ForkBranch.FORK_COPY))
@batch_twin("ReferenceBatch._fork")
def op_fork(k: Kernel, t: MutableSlots) -> str | None:
    """The parent forks child nforks+1; each private page is shared write-protected or copied for the child.

    VM_DONTFORK ranges are not copied; pipes and GUP references are not
    inherited; the child's mm starts with no MMF_HAS_PINNED.
    """
    child = t[0] + 1
    if child >= k.layout.processes:
        return None
    branch = copy_mm(k, t, child)
    t[0] = child
    flush_mm(k, t, 0)  # dup_mmap flushes the parent's TLB before dropping mmap_lock
    return branch


def copy_mm(k: Kernel, t: MutableSlots, child: int) -> str:
    """dup_mmap's copy of every VMA and its PTEs into ``child`` (not yet counted in nforks, so it cannot run).

    From v6.9 copy_present_ptes takes the PTEs of a large folio as one batch; folio_try_dup_anon_rmap_ptes
    checks every page of it before it changes any, and where one is PG_anon_exclusive in a folio that may be
    pinned the batch fails and is retried page by page (the 7.1.5 tree), where the pages that were exclusive
    are copied and the others shared: what deciding page by page here gives. Only a lockless walk could
    tell the two apart, and a world with a THP has none beside fork."""
    copied = False
    a, huge = 0, ""
    if k.folios_on and t[k.layout.pmd_base]:  # the THP's range first, by its PMD
        huge = copy_huge_pmd(k, t, child) + "+"
        if huge == "fork_thp_share+":
            a = k.layout.features.thp
    for a in range(a, k.layout.addresses):
        if copy_address(k, t, child, a) == "copy":
            copied = True
    return huge + ("fork_copy" if copied else "fork_share")


def copy_huge_pmd(k: Kernel, t: MutableSlots, child: int) -> str:
    """copy_huge_pmd for the parent's PMD: share the THP write-protected (the child's PMD maps it too, the head
    is no longer exclusive), or, as the policy says of a maybe-pinned THP, split the parent's PMD and leave its
    pages to the PTE-level copy (copy_pmd_range's -EAGAIN)."""
    L = k.layout
    head = pmd_head(k, t, 0)
    if head != k.zero_page and k.policy.fork_huge(info(k, t, head, 0)) is ForkPage.COPY:  # (the huge zero page:
        # copy_huge_pmd maps it in the child too, is_huge_zero_pmd)
        split_pmd(k, t, 0)
        return "fork_thp_split"
    M = L.addresses
    for a in range(L.features.thp):
        shared = t[1 + a] & ~PTE_WRITE
        t[1 + a] = t[1 + child * M + a] = shared
        if L.features.vma:  # the VMA goes with it (one VMA over the range while a PMD maps it)
            t[L.vma_base + child * M + a] = t[L.vma_base + a]
        inherit_writes(k, t, child, a)
    t[L.pmd_base + child] = 1
    if head != k.zero_page:
        set_exclusive(k, t, head, False)
    return "fork_thp_share"


def copy_address(k: Kernel, t: MutableSlots, child: int, a: int, share: bool = True) -> str:
    """copy_present_pte (or a swap PTE's copy) of address ``a`` for ``child``: "copy" when the child got a
    private copy, "share" when the page is shared write-protected, "" when there is nothing to share.
    ``share=False``: the page to share is only decided ("pending"), to be write-protected by ``share_address``
    (what copy_present_pte does after its check, under the PTE lock, which lockless GUP-fast does not take)."""
    L = k.layout
    M = L.addresses
    if L.features.vma:
        flags = t[L.vma_base + a]
        t[L.vma_base + child * M + a] = flags
        if flags & VMA_DONTFORK:
            return ""
    pte = t[1 + a]
    if not pte:
        return ""
    if pte & PTE_SWAP:  # swap_duplicate; neither PTE is exclusive any more
        t[1 + a] = t[1 + child * M + a] = pte & ~PTE_SWAP_EXCLUSIVE
        inherit_writes(k, t, child, a)
        return ""
    page = pte_page(pte)
    if page == k.zero_page:  # no anonymous page (vm_normal_page finds none): the R/O PTE is copied
        t[1 + child * M + a] = pte
        inherit_writes(k, t, child, a)
        return ""
    decide = k.policy.fork_hugetlb if k.hugetlb_on else k.policy.fork_page  # (copy_hugetlb_page_range)
    if decide(info(k, t, page, 0)) is ForkPage.COPY:
        # copy_present_page: the child gets a private copy now, writable if VM_WRITE
        new = copy_page(k, t, page)
        writable = not L.features.vma or bool(t[L.vma_base + a] & VMA_WRITE)
        t[1 + child * M + a] = pte_make(new, writable, pte & PTE_SOFTDIRTY)
        inherit_writes(k, t, child, a)
        return "copy"
    if not share:
        return "pending"
    share_address(k, t, child, a)
    return "share"


def share_address(k: Kernel, t: MutableSlots, child: int, a: int) -> None:
    """The page at ``a`` is shared with ``child``: both PTEs write-protected, the page no longer exclusive."""
    shared = t[1 + a] & ~PTE_WRITE
    t[1 + a] = shared
    t[1 + child * k.layout.addresses + a] = shared
    set_exclusive(k, t, pte_page(shared), False)
    inherit_writes(k, t, child, a)


class ForkInSteps(Branch):
    """dup_mmap page by page, where another thread of the parent walks the page table without mmap_lock
    (GUP-fast): each page is checked, and then write-protected, in a step of its own."""

    FORK_CHECKED = outcome("fork_checked", "fork has checked the page and will share it: the PTE is "
                           "write-protected in its next step (the PTE lock, which GUP-fast does not take, is held "
                           "between)", partial=True)
    FORK_DONE = outcome("fork_done", "fork is done: nothing was left to share or copy in its last step")


@in_steps("fork")
@mechanism(ForkInSteps, ForkBranch, ForkInTwoSteps)
def fork_in_steps(k: Kernel, t: MutableSlots, thread: int) -> str | None:
    """fork as copy_page_range runs it, one address at a time: copy_present_pte decides (copy or share) in one
    step and write-protects a page to share in the next. While it runs, mm->write_protect_seq is odd (a policy
    with 57efa1fe5957 makes GUP-fast look at it: ``fork_in_progress``); the step slot holds 1 + the address
    whose page waits to be write-protected, or 1 + M once every address is done and, with TLBs, the flush is
    pending."""
    L = k.layout
    M = L.addresses
    si = L.step_base + thread
    child = t[0] + 1
    step = t[si]
    parts = []
    if step == 0:
        if child >= L.processes:
            return None
        if L.features.tlb and not faults_run_during_fork(k) and any(t[L.fault_base + n] for n in k.threads_of[0]):
            return None  # a copy fault in flight holds mmap_lock (or the VMA's lock) for reading
        a = 0
    elif step == 1 + M:  # with TLBs: the flush, and mmap_lock dropped
        t[si] = 0
        t[0] = child
        flush_mm(k, t, 0)
        return "fork_flush"
    else:
        share_address(k, t, child, step - 1)
        parts.append("fork_share")
        a = step
    while a < M:
        done = copy_address(k, t, child, a, share=False)
        if done == "copy":
            parts.append("fork_copy")
        elif done == "pending":
            t[si] = 1 + a
            return "+".join(parts + ["fork_checked"])
        a += 1
    if L.features.tlb:
        t[si] = 1 + M
        return "+".join(parts + ["fork_flush_pending"])
    t[si] = 0
    t[0] = child
    return "+".join(parts) if parts else "fork_done"


@through_tlb("fork")
@mechanism(ForkInTwoSteps)
def op_tlb_fork(k: Kernel, t: MutableSlots, thread: int) -> str | None:
    """fork with TLBs: the PTEs are copied (write-protected) under mmap_lock, and the parent's TLB is flushed
    at the end; until then another CPU of the parent may still write through a stale writable entry. Faults
    of the parent wait for mmap_lock, or under the per-VMA lock (6.4) run meanwhile unless fork write-locks
    the VMAs (fb49c455323f), which also makes fork wait for a fault that holds a VMA lock already."""
    L = k.layout
    si = L.step_base + thread
    child = t[0] + 1
    if t[si] == 0:
        if child >= L.processes:
            return None
        if not faults_run_during_fork(k) and any(t[L.fault_base + n] for n in k.threads_of[0]):
            return None  # a copy fault in flight holds mmap_lock (or the VMA's lock) for reading
        t[si] = 1
        return copy_mm(k, t, child) + "+fork_flush_pending"
    t[si] = 0
    t[0] = child
    flush_mm(k, t, 0)
    return "fork_flush"


def faults_run_during_fork(k: Kernel) -> bool:
    """A page fault of the parent can run while fork holds mmap_lock: under the per-VMA lock (0bff0aaea03e)
    before fork locked the VMAs (fb49c455323f)."""
    return k.policy.faults_under_vma_lock and not k.policy.fork_locks_vmas


# what the parent's other threads can do while fork holds mmap_lock for writing between its two steps (a world
# with TLBs): CPU accesses (a fault among them waits, unless ``faults_run_during_fork``) and the user-space
# ordering, and the operations that walk the page table without it (``needs`` "lockless": GUP-fast, which falls
# back to the slow path, and so to mmap_lock, when it may not take what it finds or, under 57efa1fe5957, when fork
# raised write_protect_seq); every other operation takes mmap_lock
FORK_CONCURRENT = frozenset({"store", "load", "signal", "await", "wait"})


def inherit_writes(m: Machine, t: MutableSlots, child: int, addr: int) -> None:
    L = m.layout
    if L.features.last_write:
        for cell in range(L.features.cells):
            t[L.last_index(child, addr, cell)] = t[L.last_index(0, addr, cell)]


@operation("exit", Unmapping, summary="the process exits: its mappings, pipe and GUP references go", needs=("mm",))
def op_exit(k: Kernel, t: MutableSlots, proc: int) -> str | None:
    """The process's mappings, pipe and GUP references are dropped (the pins of an io_uring go with it)."""
    L = k.layout
    if k.folios_on and t[L.pmd_base + proc]:
        release(k, t, zap_pmd(k, t, proc))
    for a in range(L.addresses):
        i = L.pte_index(proc, a)
        pte = t[i]
        if pte:
            t[i] = 0
            release(k, t, pte_page(pte))  # a mapping's reference, or a swap PTE's slot
        forget_writes(k, t, proc, a)
        clear_write_protect_request(k, t, proc, a)
    op_pipe_read(k, t, proc)  # the pipe's reference goes, if it holds one
    for n, h in enumerate(k.holders):
        if h.proc == proc and t[L.holder_base + n]:
            op_put(k, t, n)
    t[L.mm_base + proc] |= MM_EXITED
    flush_mm(k, t, proc)
    return "exit"


@operation("munmap aN", Unmapping, summary="munmap() of the page")
@batch_twin("ReferenceBatch.expand")
def op_munmap(k: Kernel, t: MutableSlots, proc: int, addr: int) -> str | None:
    L = k.layout
    i = L.pte_index(proc, addr)
    pte = t[i]
    if not pte:
        return None
    split = ""
    if k.folios_on and pmd_mapped(k, t, proc, addr):
        split_pmd(k, t, proc)
        split = "pmd_split+"
    t[i] = 0
    release(k, t, pte_page(pte))
    f = L.features
    if f.tlb:
        flush_address(k, t, proc, addr)
    if f.last_write:
        forget_writes(k, t, proc, addr)
    if f.write_protect:
        clear_write_protect_request(k, t, proc, addr)
    return split + "munmap"


@operation("munmap_thp aN", Unmapping, summary="munmap() of the THP's whole range (aN is any address in it): "
           "zap_huge_pmd where a PMD maps it, else every PTE of the range")
def op_munmap_thp(k: Kernel, t: MutableSlots, proc: int, addr: int) -> str | None:
    L = k.layout
    thp = L.features.thp
    if t[L.pmd_base + proc]:
        release(k, t, zap_pmd(k, t, proc))
    elif not any(t[L.pte_index(proc, a)] for a in range(thp)):
        return None
    for a in range(thp):
        i = L.pte_index(proc, a)
        if t[i]:
            pte, t[i] = t[i], 0
            release(k, t, pte_page(pte))
        forget_writes(k, t, proc, a)
    return "munmap_thp"


class UnmappingInSteps(Branch):
    """munmap of a PMD-mapped THP in a world where a write fault elsewhere reads the folio's counters in two
    looks (6.15 on): the counters drop one at a time, in the kernel's order."""

    PMD_CLEARED = outcome("pmd_cleared", "zap_huge_pmd cleared the PMD; the folio's counters still count it "
                          "(folio_remove_rmap_pmd comes next)", partial=True)
    LARGE_MAPCOUNT_DROPPED = outcome("large_mapcount_dropped", "folio_dec_large_mapcount: the large mapcount and "
                                     "the MM owners no longer count the PMD; its entire mapcount does, until the "
                                     "next step (CONFIG_PAGE_MAPCOUNT)", partial=True)
    ENTIRE_MAPCOUNT_DROPPED = outcome("entire_mapcount_dropped", "the entire mapcount is dropped; the mmu_gather "
                                      "holds the PMD's reference until munmap flushes the TLB", partial=True)


@in_steps("munmap_thp")
@mechanism(UnmappingInSteps, Unmapping)
def munmap_thp_in_steps(k: Kernel, t: MutableSlots, proc: int, addr: int) -> str | None:
    """munmap of the THP's range where ``proc`` maps it by a PMD, one counter at a time (``gather[proc]``):
    the PMD is cleared, then the large mapcount drops, then the entire mapcount, and the reference last, when
    tlb_finish_mmu frees what the mmu_gather collected: a reference is dropped after its mapping
    (1da190f4d0a6's ordering contract). A range mapped by PTEs is unmapped in one step."""
    L = k.layout
    i = L.gather_base + proc
    gathered = t[i]
    if not gathered:
        if not t[L.pmd_base + proc]:
            return op_munmap_thp(k, t, proc, addr)
        head = zap_pmd(k, t, proc)
        for a in range(L.features.thp):
            forget_writes(k, t, proc, a)
        t[i] = (head + 1) << GATHER_SHIFT | GATHER_MAPPED | GATHER_ENTIRE | GATHER_REFERENCE
        return "pmd_cleared"
    if gathered & GATHER_MAPPED:
        t[i] = gathered & ~GATHER_MAPPED
        return "large_mapcount_dropped"
    if gathered & GATHER_ENTIRE:
        t[i] = gathered & ~GATHER_ENTIRE
        return "entire_mapcount_dropped"
    t[i] = 0
    release(k, t, (gathered >> GATHER_SHIFT) - 1)
    return "munmap_thp"
