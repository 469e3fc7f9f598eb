"""Page faults: write faults (do_wp_page), unsharing faults, and the copy fault in two steps.

With TLBs in the world, wp_page_copy() copies the old page before it takes
the page-table lock, flushes and installs the new PTE: between the two steps a
stale writable entry elsewhere can still write the old page, which is the
uffd-wp lost write Nadav Amit found (6ce64428d620). ``fault`` holds the pages
of a copy in flight (both referenced by the fault, as do_wp_page's get_page
does).
"""

from __future__ import annotations

from modelcheck.cow.kernel import Kernel, Machine, MutableSlots, Slots
from modelcheck.cow.layout import (PAGE_KSM, PTE_DIRTY, PTE_SOFTDIRTY, PTE_SWAP, PTE_UFFD_WP,
                                   PTE_WRITE, VMA_UFFD_WP, VMA_UFFD_WP_ASYNC, VMA_WRITE, pte_make, pte_page)
from modelcheck.cow.mechanisms.ghost import clear_write_protect_request, record_warnings, record_write
from modelcheck.cow.mechanisms.memory import (copy_folio, copy_page, drain_lru_batch, free_folio_swap, info, new_folio,
                                              release, set_exclusive)
from modelcheck.cow.mechanisms.thp import pmd_head, pmd_mapped, split_pmd
from modelcheck.cow.mechanisms.tlb import flush_address, flush_pending, tlb_fill
from modelcheck.cow.policies import HugeWriteFault, PageInfo, Unshare, WriteFault
from modelcheck.cow.registry import Branch, batch_twin, mechanism, outcome


class WriteFaultBranch(Branch):
    """do_wp_page: the policy's decision, and what the fault does first."""

    REUSE = "reuse"  # (the renderer says these with the page's counters)
    COPY = "copy"
    FLUSH_BEFORE_FAULT = ("flush_before_fault",
                          "a TLB flush is pending in this uffd-wp VMA: the fault flushes first ({policy})")
    LRU_DRAIN = "lru_drain", "the local LRU batch is drained before deciding"
    UFFD_ASYNC_CLEAR = ("uffd_async_clear",
                        "async uffd-wp: the fault clears the uffd-wp bit itself, no userfault, then decides ({policy})")


class HugeFault(Branch):
    """do_huge_pmd_wp_page: a write or unsharing fault on a write-protected PMD-mapped THP."""

    THP_REUSE = "thp_reuse", "the fault reuses the THP: its PMD is made writable ({policy})"
    THP_COPY = "thp_copy", "the fault copies the whole THP into a new one, mapped by a new PMD ({policy})"
    THP_SPLIT = ("thp_split", "the fault cannot reuse the THP: it splits the PMD and is retried on the one "
                 "page's PTE (VM_FAULT_FALLBACK, {policy})")
    THP_UNSHARE_KEEP = ("thp_unshare_keep", "unsharing fault: the THP is exclusive to this mm; its PMD stays "
                        "read-only ({policy})")
    HUGE_ZERO_THP = ("huge_zero_thp", "a write or unsharing fault on the huge zero page's PMD maps a fresh "
                     "zero-filled THP there, exclusive and writable (do_huge_zero_wp_pmd, {policy})")
    HUGE_ZERO_SPLIT = ("huge_zero_split", "a write or unsharing fault on the huge zero page's PMD splits it, each PTE "
                       "mapping the shared zero page (__split_huge_zero_page_pmd), and is retried on the one PTE")


class HugetlbFault(Branch):
    """hugetlb_wp: a write or unsharing fault on a write-protected hugetlb page."""

    HUGETLB_REUSE = "hugetlb_reuse", "the fault reuses the hugetlb page: it is mapped once ({policy})"
    HUGETLB_COPY = "hugetlb_copy", "the fault copies the hugetlb page into a new huge page ({policy})"
    HUGETLB_UNSHARE_KEEP = ("hugetlb_unshare_keep", "unsharing fault: the hugetlb page is mapped once; it is "
                            "marked exclusive and stays read-only ({policy})")
    HUGETLB_UNSHARE_COPY = ("hugetlb_unshare_copy", "unsharing fault: the hugetlb page is copied into a new "
                            "exclusive huge page, mapped read-only ({policy})")


class FirstTouch(Branch):
    """do_anonymous_page on an address never touched, and do_wp_page on the shared zero page."""

    ZERO_MAP = ("zero_map", "a read fault on an untouched address maps the shared zero page read-only "
                "(do_anonymous_page)")
    ANON_FAULT = ("anon_fault", "a write fault on an untouched address maps a fresh zero-filled exclusive page "
                  "(do_anonymous_page)")
    ZERO_COPY = ("zero_copy", "a write fault on the shared zero page maps a fresh zero-filled page in its place "
                 "(wp_page_copy: the zero page is never reused)")
    HUGE_ZERO_MAP = ("huge_zero_map", "a read fault on the untouched THP range maps the huge zero page by a PMD, "
                     "read-only (do_huge_pmd_anonymous_page, set_huge_zero_folio)")
    THP_ANON_FAULT = ("thp_anon_fault", "a write fault on the untouched THP range maps a fresh zero-filled THP by a "
                      "PMD, exclusive (do_huge_pmd_anonymous_page)")


class FileFault(Branch):
    """Faults on a file's page (scenario.FILE_KINDS): the page cache's page, never anonymous, never reused by a
    private mapping."""

    FILE_READ = ("file_read", "a read fault maps the file's page-cache page (do_read_fault): read-only, but "
                 "writable in a shared writable shmem or hugetlbfs mapping, which needs no write notification")
    FILE_COW = ("file_cow", "a write fault on an untouched private file mapping copies the file's page into a "
                "fresh exclusive anonymous page (do_cow_fault)")
    FILE_SHARED = ("file_shared", "a write fault on a shared file mapping maps the page-cache page writable, and "
                   "the store goes to the file (do_shared_fault, or wp_page_shared on a read-only PTE)")
    FILE_COPY = ("file_copy", "a write fault on the file's page in a private mapping copies it into a fresh "
                 "exclusive anonymous page (wp_page_copy: a page that is not anonymous is never reused)")
    UFFD_MINOR = ("uffd_minor", "the fault finds the file's page in the page cache of a minor-registered shmem "
                  "mapping: a userfault, which the handler resolves with UFFDIO_CONTINUE ({policy})")


class UffdContinue(Branch):
    """UFFDIO_CONTINUE: the handler of a minor fault maps the page that is already in the page cache."""

    UFFD_CONTINUE = ("uffd_continue", "UFFDIO_CONTINUE maps the file's page-cache page: read-only and clean in a "
                     "private mapping")
    UFFD_CONTINUE_DIRTY = ("uffd_continue_dirty", "UFFDIO_CONTINUE maps the file's page-cache page read-only "
                           "and dirty in a private mapping ({policy})")


class UnshareBranch(Branch):
    UNSHARE_KEEP = "unshare_keep", "unsharing fault: the page is exclusive to this mm already; it stays mapped read-only"
    UNSHARE_COPY = "unshare_copy", "unsharing fault: the page is copied into a fresh exclusive page, mapped read-only"


class CopyInTwoSteps(Branch):
    """wp_page_copy in a world with TLBs: the copy, then the PTE."""

    COPY_START = outcome("copy_start", "wp_page_copy: the old page is copied now; the new PTE goes in later",
                         partial=True)
    COPY_INSTALL = "copy_install", "wp_page_copy installs the copy: the PTE is flushed and replaced"
    COPY_RETRY = ("copy_retry", "the PTE changed meanwhile: the copy is dropped and the fault retried", True,
                  True)


def vma_writable(m: Machine, t: Slots, proc: int, addr: int) -> bool:
    L = m.layout
    return not L.features.vma or bool(t[L.vma_base + proc * L.addresses + addr] & VMA_WRITE)


def uffd_wp_async(m: Machine, t: Slots, proc: int, addr: int) -> bool:
    """The address is registered through a userfaultfd with UFFD_FEATURE_WP_ASYNC (d61ea1cb0095, v6.7)."""
    L = m.layout
    return L.features.vma and bool(t[L.vma_base + proc * L.addresses + addr] & VMA_UFFD_WP_ASYNC)


@mechanism(WriteFaultBranch)
@batch_twin("ReferenceBatch._write_fault_on")
def write_fault(k: Kernel, t: MutableSlots, proc: int, addr: int) -> str | None:
    """do_wp_page on a write-protected present PTE: the policy reuses or copies.

    The new or reused PTE is writable when the VMA is (a forced write fault
    in a read-only VMA, as GUP's FOLL_FORCE path does, maps it read-only),
    dirty and so soft-dirty. None when the fault has to wait for the page lock.
    """
    L = k.layout
    if k.folios_on and pmd_mapped(k, t, proc, addr):
        return huge_fault(k, t, proc, addr, unshare=False)
    i = L.pte_index(proc, addr)
    if k.hugetlb_on and pte_page(t[i]) != k.file_page:  # (a hugetlbfs page-cache page: hugetlb_wp writes it in
        return hugetlb_fault(k, t, proc, addr, unshare=False)  # place in a shared mapping, else copies it)
    if pte_page(t[i]) == k.zero_page:  # not an anonymous page (vm_normal_page finds none): always a fresh page
        map_fresh_page(k, t, proc, addr, t[i] & PTE_UFFD_WP)
        return "zero_copy"
    if pte_page(t[i]) == k.file_page:  # a page-cache page: written in place if shared, else always copied
        return file_write_fault(k, t, proc, addr)
    branch, decision = decide_write_fault(k, t, proc, addr)
    if decision is WriteFault.WAIT:
        return None
    if decision is WriteFault.REUSE:
        return branch + reuse_page(k, t, proc, addr)
    copy_for_write(k, t, proc, addr)  # (an async uffd-wp bit is gone by now)
    return branch + "copy"


@batch_twin("ReferenceBatch._write_fault_on")
def copy_for_write(k: Kernel, t: MutableSlots, proc: int, addr: int) -> None:
    """wp_page_copy for a write: the page at ``addr`` copied into a fresh one, mapped writable (if VM_WRITE),
    dirty and so soft-dirty, uffd-wp kept; the old page loses this mapping."""
    i = k.layout.pte_index(proc, addr)
    pte = t[i]
    page = pte_page(pte)
    soft_dirty = PTE_SOFTDIRTY if k.soft_dirty_on else 0
    new = copy_page(k, t, page)
    flush_address(k, t, proc, addr)  # ptep_clear_flush before the new PTE goes in
    t[i] = pte_make(new, vma_writable(k, t, proc, addr), soft_dirty | (pte & PTE_UFFD_WP))
    release(k, t, page)
    clear_write_protect_request(k, t, proc, addr)


class LargeReuseInTwoLooks(Branch):
    """__wp_can_reuse_large_anon_folio in a world where another process or event may act between its looks."""

    LARGE_REUSE_UNLOCKED = outcome("large_reuse_unlocked", "the write fault read the large folio mapped more "
                                   "than once, not maybe shared, its large mapcount equal to its refcount; it "
                                   "takes the large mapcount's lock and reads them again next ({policy})",
                                   partial=True)


def large_folio_to_look_at(k: Kernel, t: Slots, proc: int, addr: int) -> PageInfo | None:
    """The page as a write fault on ``addr`` sees it, where the fault would ask __wp_can_reuse_large_anon_folio:
    a PTE-mapped page of the world's large folio, anonymous, neither PG_anon_exclusive nor KSM; else None."""
    L = k.layout
    page = pte_page(t[L.pte_index(proc, addr)])
    if not k.folios_on or not t[L.folio_base + page] or pmd_mapped(k, t, proc, addr) or page == k.zero_page:
        return None
    seen = info(k, t, page, proc)
    return seen if seen.anon and not seen.exclusive and not seen.ksm else None


@mechanism(LargeReuseInTwoLooks, WriteFaultBranch)
def large_fault_first_look(k: Kernel, t: MutableSlots, thread: int, proc: int, addr: int) -> str | None:
    """A store's write fault where 6.15's reuse of a large folio reads its counters in two looks (``k`` has
    ``large_reuse_in_steps``): the look without the lock either copies at once or leaves the PTE it saw in
    the thread's step slot (+ 1) for the look under folio_lock_large_mapcount. Any other write fault (and
    the fault a GUP raises) decides in one step. The warnings either look fires are recorded
    (``ghost.record_warnings``)."""
    seen = large_folio_to_look_at(k, t, proc, addr)
    if seen is None:
        return write_fault(k, t, proc, addr)
    L = k.layout
    i = L.pte_index(proc, addr)
    seen = large_folio_swap_freed(k, t, pte_page(t[i]), proc, seen)
    go, warned = k.policy.large_reuse_unlocked(seen)
    record_warnings(k, t, warned)
    if not go:
        copy_for_write(k, t, proc, addr)
        return "copy"
    t[L.step_base + thread] = t[i] + 1
    return "large_reuse_unlocked"


def large_fault_second_look(k: Kernel, t: MutableSlots, thread: int, proc: int, addr: int) -> str | None:
    """The look under the large mapcount's lock: reuse or copy. None if the PTE is no longer the one the first
    look saw (the fault's pte_same check fails, it returns, and the store tries again)."""
    L = k.layout
    si, i = L.step_base + thread, L.pte_index(proc, addr)
    seen, t[si] = t[si] - 1, 0
    if t[i] != seen:
        return None
    reuse, warned = k.policy.large_reuse_locked(info(k, t, pte_page(seen), proc))
    record_warnings(k, t, warned)
    if reuse:
        return reuse_page(k, t, proc, addr)
    copy_for_write(k, t, proc, addr)
    return "copy"


def copy_for_unshare(k: Kernel, t: MutableSlots, proc: int, addr: int) -> None:
    """wp_page_copy for an unsharing fault: a fresh exclusive copy mapped read-only, soft-dirty and uffd-wp
    kept."""
    i = k.layout.pte_index(proc, addr)
    pte = t[i]
    page = pte_page(pte)
    new = copy_page(k, t, page)
    flush_address(k, t, proc, addr)
    t[i] = pte_make(new, False, pte & (PTE_SOFTDIRTY | PTE_UFFD_WP))
    release(k, t, page)


@mechanism(HugeFault)
def huge_fault(k: Kernel, t: MutableSlots, proc: int, addr: int, unshare: bool,
               seen: PageInfo | None = None) -> str | None:
    """do_huge_pmd_wp_page (wp_huge_pmd) on ``proc``'s write-protected PMD, for a write or (5.19 on) an
    unsharing fault: the policy reuses the THP (an unsharing fault marks it exclusive and keeps the PMD
    read-only), copies it whole (before v5.8), or splits the PMD and the fault is retried on the PTE of the
    page at ``addr``. ``seen``: the THP as the fault read it, where it read it in steps."""
    L = k.layout
    head = pmd_head(k, t, proc)
    if head == k.zero_page and k.policy.huge_zero_fault_maps_thp:  # do_huge_zero_wp_pmd (1ced09e0331f)
        huge_first_touch(k, t, proc, write=True)
        return "huge_zero_thp"
    if head == k.zero_page:  # do_huge_pmd_wp_page on the huge zero page: VM_FAULT_FALLBACK
        t[L.pmd_base + proc] = 0  # (the PMD's entries already name the shared zero page)
        branch = unshare_fault(k, t, proc, addr) if unshare else write_fault(k, t, proc, addr)
        return None if branch is None else "huge_zero_split+" + branch
    decision = k.policy.huge_write_fault(seen or info(k, t, head, proc))
    soft_dirty = PTE_SOFTDIRTY if k.soft_dirty_on else 0
    if decision is HugeWriteFault.REUSE:
        set_exclusive(k, t, head, True)
        if unshare:
            return "thp_unshare_keep"
        for a in range(L.features.thp):
            t[L.pte_index(proc, a)] |= PTE_WRITE | soft_dirty
        return "thp_reuse"
    if decision is HugeWriteFault.COPY:
        new = copy_folio(k, t, head)
        for a, page in enumerate(new):
            t[L.pte_index(proc, a)] = pte_make(page, not unshare, soft_dirty)
        release(k, t, head)
        return "thp_copy"
    split_pmd(k, t, proc)
    branch = unshare_fault(k, t, proc, addr) if unshare else write_fault(k, t, proc, addr)
    return None if branch is None else "thp_split+" + branch


@mechanism(HugetlbFault)
def hugetlb_fault(k: Kernel, t: MutableSlots, proc: int, addr: int, unshare: bool) -> str:
    """hugetlb_wp (hugetlb_cow before 5.19) on a write-protected huge PTE, for a write or (5.19 on) an
    unsharing fault: the policy's ``hugetlb_write_fault`` reuses the page (marked exclusive; for a write, made
    writable) or copies it into a new huge page (writable for a write, read-only and exclusive for an
    unsharing fault)."""
    page = pte_page(t[k.layout.pte_index(proc, addr)])
    if k.policy.hugetlb_write_fault(info(k, t, page, proc)) is WriteFault.REUSE:
        if unshare:
            set_exclusive(k, t, page, True)
            return "hugetlb_unshare_keep"
        reuse_page(k, t, proc, addr)
        return "hugetlb_reuse"
    if unshare:
        copy_for_unshare(k, t, proc, addr)
        return "hugetlb_unshare_copy"
    copy_for_write(k, t, proc, addr)
    return "hugetlb_copy"


@mechanism(FirstTouch)
def first_touch(k: Kernel, t: MutableSlots, proc: int, addr: int, write: bool) -> str:
    """do_anonymous_page on a fresh address: a read maps the shared zero page read-only (a special PTE, no
    reference, no mapcount: the zero page is no anonymous page); a write maps a fresh zero-filled page,
    exclusive (folio_add_new_anon_rmap) and in the local LRU add batch (folio_add_lru_vma)."""
    if addr in k.file_maps:
        return file_first_touch(k, t, proc, addr, write)
    L = k.layout
    thp = L.features.thp
    if k.folios_on and addr < thp and not any(t[L.pte_index(proc, a)] for a in range(thp)):
        return huge_first_touch(k, t, proc, write)
    if write:
        map_fresh_page(k, t, proc, addr, 0)
        return "anon_fault"
    t[k.layout.pte_index(proc, addr)] = pte_make(k.zero_page, False)
    return "zero_map"


def huge_first_touch(k: Kernel, t: MutableSlots, proc: int, write: bool) -> str:
    """do_huge_pmd_anonymous_page on the untouched THP range (THP enabled for it, as MADV_HUGEPAGE makes it): a
    read maps the huge zero page by a read-only PMD (the world's entries name the shared zero page, which is
    what splitting that PMD maps at each of them); a write a fresh zero-filled THP, exclusive, by a writable
    PMD."""
    L = k.layout
    thp = L.features.thp
    t[L.pmd_base + proc] = 1
    if not write:
        for a in range(thp):
            t[L.pte_index(proc, a)] = pte_make(k.zero_page, False)
        return "huge_zero_map"
    soft_dirty = PTE_SOFTDIRTY if k.soft_dirty_on else 0
    for a, page in enumerate(new_folio(k, t, [k.zero_page] * thp)):
        t[L.pte_index(proc, a)] = pte_make(page, vma_writable(k, t, proc, a), soft_dirty)
        clear_write_protect_request(k, t, proc, a)
    return "thp_anon_fault"


@mechanism(FileFault)
def file_first_touch(k: Kernel, t: MutableSlots, proc: int, addr: int, write: bool) -> str:
    """The first access to an untouched file mapping: do_read_fault maps the page-cache page (writable only in
    a shared writable mapping of a file that needs no dirty tracking: its vm_page_prot carries the write bit);
    a write fault goes to do_cow_fault (private: an anonymous copy, exclusive, in the local LRU batch) or
    do_shared_fault (the page-cache page itself, writable, page_mkwrite first on a disk file)."""
    if minor_fault_raised(k, addr):
        branch = minor_fault(k, t, proc, addr)
        # the fault is retried once the handler has woken it: a read finds the page mapped; a write faults again
        return branch + ("+" + file_write_fault(k, t, proc, addr) if write and not t[k.layout.pte_index(proc, addr)]
                         & PTE_WRITE else "")
    shared = k.file_maps[addr] == "shared"
    writable = vma_writable(k, t, proc, addr)
    soft_dirty = PTE_SOFTDIRTY if k.soft_dirty_on else 0
    i = k.layout.pte_index(proc, addr)
    if not write:
        t[i] = pte_make(k.file_page, shared and writable and k.file_kind != "disk")
        return "file_read"
    if shared:
        t[i] = pte_make(k.file_page, writable, soft_dirty)
        return "file_shared"
    new = copy_page(k, t, k.file_page)
    t[i] = pte_make(new, writable, soft_dirty)
    return "file_cow"


@mechanism(FileFault)
def file_write_fault(k: Kernel, t: MutableSlots, proc: int, addr: int) -> str:
    """do_wp_page on a read-only PTE of the file's page: wp_page_shared makes it writable in a MAP_SHARED
    mapping (no COW there); in a MAP_PRIVATE one wp_page_copy copies it into a fresh exclusive anonymous page,
    in every era (only an anonymous page is ever considered for reuse)."""
    L = k.layout
    i = L.pte_index(proc, addr)
    pte = t[i]
    writable = vma_writable(k, t, proc, addr)
    soft_dirty = PTE_SOFTDIRTY if k.soft_dirty_on else 0
    if k.file_maps.get(addr) == "shared":
        t[i] = (pte & ~PTE_WRITE) | int(writable) | soft_dirty
        clear_write_protect_request(k, t, proc, addr)
        return "file_shared"
    new = copy_page(k, t, k.file_page)
    flush_address(k, t, proc, addr)
    t[i] = pte_make(new, writable, soft_dirty | (pte & PTE_UFFD_WP))
    release(k, t, k.file_page)
    clear_write_protect_request(k, t, proc, addr)
    return "file_copy"


def minor_fault_raised(k: Kernel, addr: int) -> bool:
    """shmem_get_folio finds the page in the page cache of a VMA registered for minor faults (c949b097ef2e,
    v5.14) and hands the fault to userfaultfd; before that a minor registration of shmem fails (EINVAL), and the
    fault maps the page as any other."""
    return addr in k.minor_addrs and k.policy.uffd_minor_shmem


def minor_fault(k: Kernel, t: MutableSlots, proc: int, addr: int) -> str:
    """The userfault of a minor fault (``minor_fault_raised``), which the world's handler answers with
    UFFDIO_CONTINUE; the fault that raised it is retried after (its caller says how)."""
    return "uffd_minor+" + uffd_continue_install(k, t, proc, addr)


@mechanism(UffdContinue)
def uffd_continue_install(k: Kernel, t: MutableSlots, proc: int, addr: int) -> str:
    """UFFDIO_CONTINUE (mfill_atomic_install_pte) maps the page-cache page at an empty PTE: writable only in a
    shared writable mapping (a page in the page cache is never mapped writable into a private one), and dirty
    when it is writable, or always from 9ae0f87d009c (v5.16; so too in the 7.1.5 tree): read-only and dirty
    is what no fault of a private file mapping ever made before, and what FOLL_COW trusted (CVE-2022-2590).
    x86's pte_mkdirty sets the soft-dirty bit with the dirty one."""
    writable = k.file_maps[addr] == "shared" and vma_writable(k, t, proc, addr)
    dirty = writable or k.policy.uffd_continue_maps_dirty
    flags = (PTE_DIRTY | (PTE_SOFTDIRTY if k.soft_dirty_on else 0)) if dirty else 0
    t[k.layout.pte_index(proc, addr)] = pte_make(k.file_page, writable, flags)
    return "uffd_continue_dirty" if dirty and not writable else "uffd_continue"


def map_fresh_page(k: Kernel, t: MutableSlots, proc: int, addr: int, keep: int) -> None:
    """A fresh zero-filled anonymous page mapped at ``addr`` (writable if VM_WRITE, dirty, soft-dirty), in
    place of nothing or of the zero page (which needs no release: it is never freed)."""
    new = copy_page(k, t, k.zero_page)  # the zero page's contents: the initial tag in every part
    writable = vma_writable(k, t, proc, addr)
    t[k.layout.pte_index(proc, addr)] = pte_make(new, writable, (PTE_SOFTDIRTY if k.soft_dirty_on else 0) | keep)
    clear_write_protect_request(k, t, proc, addr)


def decide_write_fault(k: Kernel, t: MutableSlots, proc: int, addr: int) -> tuple[str, WriteFault]:
    """The head of do_wp_page: an async uffd-wp bit cleared (d61ea1cb0095), a pending uffd-wp flush
    (6ce64428d620), then the policy's decision.

    Returns the branch words so far and the decision.
    """
    branch = clear_async_uffd_wp(k, t, proc, addr) + flush_before_wp_fault(k, t, proc, addr)
    page = pte_page(t[k.layout.pte_index(proc, addr)])
    page_info, drained = info_after_drain(k, t, page, proc)
    page_info = large_folio_swap_freed(k, t, page, proc, page_info)
    record_looks_at_once(k, t, page_info)
    return branch + drained, k.policy.write_fault(page_info)


def large_folio_swap_freed(k: Kernel, t: MutableSlots, page: int, proc: int, seen: PageInfo) -> PageInfo:
    """__wp_can_reuse_large_anon_folio past its early checks, where the policy gets there: a folio in the swap
    cache is trylocked and its swap cache freed, which fails while any PTE is still one of its swap entries;
    the page as the looks then see it."""
    if (seen.large and seen.anon and not seen.exclusive and not seen.ksm and k.policy.large_reuse_frees_swap(seen)
            and free_folio_swap(k, t, page)):
        return info(k, t, page, proc)
    return seen


def record_looks_at_once(k: Kernel, t: MutableSlots, seen: PageInfo) -> None:
    """A fault that asks __wp_can_reuse_large_anon_folio in one step (a GUP's write or unsharing fault, a
    store where nothing can act between the looks) fires what both looks assert, read at the same instant:
    the warnings are recorded as the stepped fault records them (``large_fault_first_look``)."""
    if not (k.policy.tracks_mm_owners and seen.large and seen.anon and not seen.exclusive and not seen.ksm):
        return
    go, warned = k.policy.large_reuse_unlocked(seen)
    if go:
        warned += k.policy.large_reuse_locked(seen)[1]
    record_warnings(k, t, warned)


def clear_async_uffd_wp(k: Kernel, t: MutableSlots, proc: int, addr: int) -> str:
    """d61ea1cb0095: a write fault on a uffd-wp PTE of an async userfaultfd drops the bit in the kernel (no
    event, no TLB flush: the bit is invisible to the hardware) and goes on as a fault on a plain R/O PTE. A
    synchronous PTE never gets here: the store waits for the handler (``cpu.store_walk``)."""
    i = k.layout.pte_index(proc, addr)
    if t[i] & PTE_UFFD_WP and uffd_wp_async(k, t, proc, addr):
        t[i] &= ~PTE_UFFD_WP
        return "uffd_async_clear+"
    return ""


def flush_before_wp_fault(k: Kernel, t: MutableSlots, proc: int, addr: int) -> str:
    """6ce64428d620: in a uffd-wp VMA, a write fault first flushes what a concurrent change left pending."""
    L = k.layout
    if (k.policy.flushes_pending_tlb_before_wp_fault and L.features.tlb and L.features.vma
            and t[L.vma_base + proc * L.addresses + addr] & VMA_UFFD_WP and flush_pending(k, t, proc)):
        flush_address(k, t, proc, addr)
        return "flush_before_fault+"
    return ""


def info_after_drain(k: Kernel, t: MutableSlots, page: int, proc: int) -> tuple[PageInfo, str]:
    """The page as the policy sees it, after lru_add_drain() if the policy drains first: the batch of the CPU
    the fault runs on, every page of it; a page in another CPU's batch keeps that batch's reference."""
    page_info = info(k, t, page, proc)
    if k.policy.drains_lru_before_reuse(page_info):
        drain_lru_batch(k, t, k.cpu)
        return info(k, t, page, proc), "lru_drain+"
    return page_info, ""


@batch_twin("ReferenceBatch._write_fault_on")
def reuse_page(k: Kernel, t: MutableSlots, proc: int, addr: int) -> str:
    """wp_page_reuse: the same page, now writable (if VM_WRITE), dirty and so soft-dirty; exclusive."""
    L = k.layout
    i = L.pte_index(proc, addr)
    pte = t[i]
    writable = PTE_WRITE if vma_writable(k, t, proc, addr) else 0
    soft_dirty = PTE_SOFTDIRTY if k.soft_dirty_on else 0
    t[i] = (pte & ~PTE_WRITE) | writable | soft_dirty
    page = pte_page(pte)
    if L.features.pageflags:
        t[L.flags_base + page] &= ~PAGE_KSM  # reuse_ksm_page's page_move_anon_rmap: an anonymous page again
    set_exclusive(k, t, page, True)
    if k.swap_on:
        free_folio_swap(k, t, page)  # reuse_swap_page / try_to_free_swap, unless a swap PTE still names the folio
    clear_write_protect_request(k, t, proc, addr)
    return "reuse"


@mechanism(UnshareBranch)
@batch_twin("ReferenceBatch._vmsplice")
def unshare_fault(k: Kernel, t: MutableSlots, proc: int, addr: int) -> str:
    """FAULT_FLAG_UNSHARE (5.19) or Andrea's copy-on-read: make the mapped page exclusive, keep it R/O."""
    L = k.layout
    if k.folios_on and pmd_mapped(k, t, proc, addr):
        return huge_fault(k, t, proc, addr, unshare=True) or "thp_split"  # (an unsharing fault never waits)
    page = pte_page(t[L.pte_index(proc, addr)])
    if k.hugetlb_on and page != k.file_page:
        return hugetlb_fault(k, t, proc, addr, unshare=True)
    page_info, _ = info_after_drain(k, t, page, proc)
    page_info = large_folio_swap_freed(k, t, page, proc, page_info)
    record_looks_at_once(k, t, page_info)
    # (a page that is not anonymous, the zero page or a file's page in a COW mapping, is always copied:
    # 8d6a0ac09a16's wp_page_copy; only a policy that unshares such pages gets here with one)
    if page_info.anon and k.policy.unshare(page_info) is Unshare.KEEP:
        set_exclusive(k, t, page, True)
        return "unshare_keep"
    copy_for_unshare(k, t, proc, addr)
    return "unshare_copy"


@mechanism(WriteFaultBranch, CopyInTwoSteps)
def fault_first_step(k: Kernel, t: MutableSlots, thread: int, proc: int, addr: int) -> str | None:
    """do_wp_page under the page-table lock: reuse at once, or start wp_page_copy (copy the old page)."""
    L = k.layout
    page = pte_page(t[L.pte_index(proc, addr)])
    branch, decision = decide_write_fault(k, t, proc, addr)
    if decision is WriteFault.WAIT:
        return None
    if decision is WriteFault.REUSE:
        return branch + reuse_page(k, t, proc, addr)
    new = copy_page(k, t, page)
    t[L.fault_base + thread] = (new + 1) | (page + 1) << 8
    return branch + "copy+copy_start"


@mechanism(CopyInTwoSteps)
def install_copy(k: Kernel, t: MutableSlots, thread: int, proc: int, addr: int, cell: int, tag: int) -> str:
    """wp_page_copy's second half: if the PTE still maps the old page, flush it and install the copy."""
    L = k.layout
    fi = L.fault_base + thread
    new, old = (t[fi] & 255) - 1, (t[fi] >> 8) - 1
    t[fi] = 0
    i = L.pte_index(proc, addr)
    pte = t[i]
    if not pte or pte & (PTE_SWAP | PTE_WRITE) or pte_page(pte) != old:
        release(k, t, new)  # the PTE changed meanwhile: drop the copy, fault again
        release(k, t, old)
        return "copy_retry"
    flush_address(k, t, proc, addr)  # ptep_clear_flush
    writable = vma_writable(k, t, proc, addr)
    soft_dirty = PTE_SOFTDIRTY if k.soft_dirty_on else 0
    t[i] = pte_make(new, writable, soft_dirty | (pte & PTE_UFFD_WP))
    release(k, t, old)
    clear_write_protect_request(k, t, proc, addr)
    t[L.value_index(new, cell)] = tag
    record_write(k, t, proc, addr, tag, cell)
    tlb_fill(k, t, thread, proc, addr)
    return "copy_install"
