"""What a policy is: the kernel's decisions that changed from era to era.

The mechanisms of the world (faults, fork, GUP, write-protection) ask the
policy; the policy answers from what the kernel could see at that point (the
page's counters and flags, the mm's flags). A new policy is one new module in
this package that defines ``POLICY``; nothing else changes. Each policy is
composed of the commits that changed a decision, one piece each, on top of the
rule before 2020 (``pieces.py``), so each module reads as the era's diff.

Every decision has a default: the behaviour before 2020 (share at fork,
no special GUP handling beyond a write fault for FOLL_WRITE, write-protect
whatever is asked).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from enum import Enum
from typing import ClassVar

GUP_PIN_COUNTING_BIAS = 1024  # a FOLL_PIN on a small page adds this much to its refcount


class WriteFault(Enum):
    """do_wp_page's choice for a write fault on a present, write-protected anonymous page."""

    REUSE = "reuse"  # make the PTE writable and write into the same page
    COPY = "copy"    # allocate a new page, copy, map it writable; the old page loses this mapping
    WAIT = "wait"    # sleep until the page lock is free, then fault again (lock_page before 5.9)


class HugeWriteFault(Enum):
    """do_huge_pmd_wp_page's choice for a write (or unsharing) fault on a write-protected PMD-mapped THP."""

    REUSE = "reuse"  # make the PMD writable (an unsharing fault: mark it exclusive, keep it R/O)
    COPY = "copy"    # copy the whole huge page into a new one, mapped by a new PMD (before v5.8)
    SPLIT = "split"  # split the PMD into PTEs and fault again on the one page (VM_FAULT_FALLBACK, from v5.8)


class ForkPage(Enum):
    """copy_present_pte's choice for one present page of a private mapping at fork()."""

    SHARE = "share"  # write-protect parent and child PTEs; both map the page
    COPY = "copy"    # the child gets its own copy now; the parent's PTE is untouched


class GupFirst(Enum):
    """What GUP does to the PTE before taking its reference."""

    NOTHING = "nothing"          # take a reference to whatever is mapped
    WRITE_FAULT = "write_fault"  # trigger a write fault first (FOLL_WRITE, or a forced COW break)
    UNSHARE = "unshare"          # trigger an unsharing fault (FAULT_FLAG_UNSHARE, copy-on-read)


class Unshare(Enum):
    """The outcome of an unsharing fault: keep the page (now exclusive) or copy it."""

    KEEP = "keep"
    COPY = "copy"


@dataclass(frozen=True, slots=True)
class PageInfo:
    """What the kernel can see about a page (and its mm) when it decides.

    ``mapcount`` is the number of PTEs mapping the page; ``refcount`` is
    page_count: one per mapping plus every other holder (pipe buffers, FOLL_GET
    references, FOLL_PIN references at GUP_PIN_COUNTING_BIAS each, speculative
    references, an LRU batch, the swap cache). ``swapcount`` counts the swap
    PTEs that still name the page's swap slot. ``exclusive`` is PG_anon_exclusive (tracked only
    for policies that use it); ``has_pinned`` is MMF_HAS_PINNED of the mm asking.

    A page of a large folio (a THP: ``large``) shares the folio's refcount (kept in its head page, one per PMD
    mapping and one per PTE mapping of any of its pages, a FOLL_PIN adding one, not the bias) and counts its
    pins exactly (``pincount``: compound_pincount); its ``mapcount`` is page_trans_huge_mapcount, the most
    that any page of the folio is mapped (a PMD mapping maps each), which is what reuse_swap_page reads. In the
    swap cache (``in_swapcache``: the whole folio, one reference a page) its ``swapcount`` is what the pages' swap
    entries add to that: mapcount + swapcount is page_trans_huge_map_swapcount, the most any page is mapped or
    named by a swap entry.
    """

    mapcount: int
    refcount: int
    exclusive: bool = False
    in_lru_batch: bool = False
    has_pinned: bool = False
    in_swapcache: bool = False
    swapcount: int = 0  # swap PTEs that refer to the page's swap slot
    locked: bool = False  # PG_locked is held by someone else
    anon: bool = True  # an anonymous page (not the shared zero page, not a page-cache page of a file)
    ksm: bool = False  # PageKsm: merged by ksmd, mapped read-only wherever it is, never PG_anon_exclusive
    large: bool = False  # a page of a large folio (a THP)
    pincount: int = 0    # a large folio's exact count of FOLL_PIN references
    large_mapcount: int = 0  # a large folio's mappings (one per PMD, one per PTE of any of its pages)
    maybe_shared: bool = False  # folio_maybe_mapped_shared (6.15's MM-owner tracking; else: mapped by two MMs)
    entire_mapcount: int = 0  # a large folio's PMD mappings (folio_entire_mapcount), one being unmapped included
    nr_pages: int = 1  # the pages of its folio (folio_nr_pages)
    holds_owner_slot: bool = True  # the asking MM holds one of the large folio's two MM-owner slots (folio_mm_id)

    @property
    def maybe_dma_pinned(self) -> bool:
        """page_maybe_dma_pinned(): on a small page refcount >= 1024, which may be a false positive, never a
        false negative; on a THP its exact pincount (hpage_pincount_available: order > 1, which a THP is)."""
        if self.large:
            return self.pincount > 0
        return self.refcount >= GUP_PIN_COUNTING_BIAS


@dataclass(frozen=True, slots=True)
class GupRequest:
    """The flags of one GUP call and what it found mapped."""

    write: bool      # FOLL_WRITE
    pin: bool        # FOLL_PIN (else FOLL_GET)
    longterm: bool   # FOLL_LONGTERM
    pte_writable: bool
    # the VMA: is_cow_mapping (private and may be written), vma_is_anonymous, and vma_needs_dirty_tracking
    # (a shared mapping of a file whose file system tracks dirty pages for writeback: ext4, xfs, btrfs; not
    # shmem/tmpfs); every VMA was private anonymous memory before file mappings came into the world
    cow_mapping: bool = True
    anon_vma: bool = True
    needs_dirty_tracking: bool = False


class KernelWarning(Enum):
    """A VM_WARN_ON_ONCE a decision asserts: the condition it warns of. A warning that fires where the kernel is
    right is a bug too (syzbot reports it; a machine booted with panic_on_warn stops)."""

    ENTIRELY_MAPPED = "the folio it is about to reuse a page of is still PMD-mapped (folio_entire_mapcount)"
    MAPPED_BEYOND_PAGES = "the folio's large mapcount exceeds its pages (one MM maps each page once)"
    MAPCOUNT_BELOW_REFCOUNT = "the folio's large mapcount is below its refcount, under the large mapcount's lock"
    MAPCOUNT_ABOVE_REFCOUNT = "the folio's large mapcount is above its refcount, under the large mapcount's lock"
    NOT_AN_OWNER = "the MM about to reuse a page of the folio holds neither of its MM-owner slots (folio_mm_id)"


LargeLook = tuple[bool, tuple[KernelWarning, ...]]  # (go on / reuse, the warnings the look fired)


class Policy(ABC):
    """Base of every policy: its identity, and the rules it sets."""

    name: ClassVar[str]
    release: ClassVar[str]              # the kernel release(s) that used the rule
    commits: ClassVar[tuple[str, ...]]  # the commit ids it is made of (derived from its pieces)
    summary: ClassVar[str]              # one line for `modelcheck policies`
    uses_exclusive: ClassVar[bool] = False  # the world tracks PG_anon_exclusive for it
    # 6ce64428d620 (v5.12): a write fault in a uffd-wp VMA first flushes a TLB flush still pending
    flushes_pending_tlb_before_wp_fault: ClassVar[bool] = False
    # 57efa1fe5957 (v5.11): GUP-fast's pins check mm->write_protect_seq, so none is made while fork copies
    fork_write_protect_seq: ClassVar[bool] = False
    # 6af8cb80d3a9 (v6.15): each large folio tracks the MMs that map it in two slots and a "maybe shared" bit
    tracks_mm_owners: ClassVar[bool] = False
    madvise_collapse: ClassVar[bool] = False  # MADV_COLLAPSE exists (7d8faaf15545, v6.1)
    # 1ced09e0331f (v6.13): a write or unsharing fault on the huge zero page's PMD maps a fresh THP there
    huge_zero_fault_maps_thp: ClassVar[bool] = False
    # c444eb564fb1 (v5.8): __split_huge_pmd takes the THP's page lock, under which reuse_swap_page reads its mapcounts
    thp_split_locks_page: ClassVar[bool] = False
    # 912efa17e512 (v5.12): clear_refs flushes the TLB after write-protecting (before: no flush at all)
    clear_refs_flushes_tlb: ClassVar[bool] = False
    # a7e689dd1c06 (v6.5): O_DIRECT through the block layer and iomap pins user pages (FOLL_PIN), no FOLL_GET
    odirect_pins: ClassVar[bool] = False
    # d61ea1cb0095 (v6.7): UFFDIO_API accepts UFFD_FEATURE_WP_ASYNC (before: an unknown feature, EINVAL)
    uffd_wp_async: ClassVar[bool] = False
    # f33ea7f404e5 (v2.6.13) until 19be0eaffa3a (v4.8.3, v4.9): after its COW fault a FOLL_FORCE write drops
    # FOLL_WRITE, so its retry takes whatever is mapped then, after a read fault if nothing is (Dirty COW)
    forced_write_drops_foll_write: ClassVar[bool] = False
    # c949b097ef2e (v5.14, with 153132571f02): shmem registers for minor faults, which UFFDIO_CONTINUE resolves
    uffd_minor_shmem: ClassVar[bool] = False
    # 9ae0f87d009c (v5.16): UFFDIO_CONTINUE maps a page-cache page dirty, read-only ones in private mappings too
    uffd_continue_maps_dirty: ClassVar[bool] = False
    # c8070b787519 (v6.5): a FOLL_PIN of the shared zero page takes no reference, and its unpin drops none
    zero_page_pins_uncounted: ClassVar[bool] = False
    # 0bff0aaea03e (v6.4, CONFIG_PER_VMA_LOCK): a page fault holds only its VMA's read lock, not mmap_lock
    faults_under_vma_lock: ClassVar[bool] = False
    # fb49c455323f (v6.5): fork write-locks every VMA of the parent, so such a fault waits until fork is done
    fork_locks_vmas: ClassVar[bool] = False
    # adef440691ba (v6.8): the UFFDIO_MOVE ioctl exists (before: an unknown ioctl, EINVAL)
    uffdio_move: ClassVar[bool] = False
    # 6cce3314b928 (v6.2): MADV_UNMERGEABLE's break_ksm raises an unsharing fault (before: a write fault)
    breaks_ksm_by_unshare: ClassVar[bool] = False
    # 508758960b8d (v6.11): a fault on a swap PTE of a large folio found in the swap cache maps the whole folio
    swapin_maps_large_folio: ClassVar[bool] = False
    # c18160dba5ff (v6.11): a swap-in read fault maps an exclusive page writable at once (VM_WRITE, no uffd-wp,
    # no soft-dirty fault due), instead of leaving the write fault that would reuse it for later
    swapin_read_maps_exclusive_writable: ClassVar[bool] = False

    @abstractmethod
    def write_fault(self, page: PageInfo) -> WriteFault:
        """Reuse or copy on a write fault on a write-protected anonymous page."""

    def swapin_reuse(self, page: PageInfo, swap_exclusive: bool) -> bool:
        """do_swap_page on a write fault: map the swap-cache page writable at once?

        Every era up to 5.17 asked reuse_swap_page(): mapcount plus swap count at
        most one, whatever the refcount (predicates-check §1c, §7: the swap-in
        path stayed mapcount-based while do_wp_page went refcount-based).
        """
        return page.mapcount + page.swapcount <= 1

    def reclaim_skips(self, page: PageInfo) -> bool:
        """shrink_page_list keeps this page out of the swap cache."""
        return False

    def unmap_refuses(self, page: PageInfo) -> bool:
        """try_to_unmap gives up on this page (it cannot stop being exclusive)."""
        return False

    def drains_lru_before_reuse(self, page: PageInfo) -> bool:
        """Drain the local LRU batch before deciding (5.18: an extra batch reference must not force a copy)."""
        return False

    def fork_page(self, page: PageInfo) -> ForkPage:
        return ForkPage.SHARE

    def huge_write_fault(self, page: PageInfo) -> HugeWriteFault:
        """do_huge_pmd_wp_page (and its unsharing twin): before 2020 it took the page lock and asked
        reuse_swap_page, which for a THP reads page_trans_huge_mapcount (``mapcount`` of a large page) plus the
        swap count; a page it could not reuse was copied whole (v5.7 tree)."""
        return HugeWriteFault.REUSE if page.mapcount + page.swapcount <= 1 else HugeWriteFault.COPY

    def fork_huge(self, page: PageInfo) -> ForkPage:
        """copy_huge_pmd: share the PMD write-protected (COPY: split it and copy the pages at PTE level)."""
        return ForkPage.SHARE

    def hugetlb_write_fault(self, page: PageInfo) -> WriteFault:
        """hugetlb_cow / hugetlb_wp, for a write or an unsharing fault on a hugetlb page: reuse an anonymous
        page mapped once, else copy it into a new huge page. The refcount is deliberately not looked at, in
        every era (7.1.5's comment says FOLL_GET references may leak so), which keeps the vmsplice leak open on
        hugetlb (cow.c's expected failure)."""
        return WriteFault.REUSE if page.anon and page.mapcount == 1 else WriteFault.COPY

    def fork_hugetlb(self, page: PageInfo) -> ForkPage:
        """copy_hugetlb_page_range: share the huge page write-protected (COPY: a copy for the child now)."""
        return ForkPage.SHARE

    def gup(self, request: GupRequest, page: PageInfo) -> GupFirst:
        """FOLL_WRITE on a write-protected PTE faults first (every era); a read takes what is mapped,
        unless the policy unshares it first."""
        if request.pte_writable:
            return GupFirst.NOTHING
        if request.write:
            return GupFirst.WRITE_FAULT
        return GupFirst.UNSHARE if self.read_gup_unshares(request, page) else GupFirst.NOTHING

    def read_gup_unshares(self, request: GupRequest, page: PageInfo) -> bool:
        """A read GUP on a write-protected PTE first makes the page private to the caller (never, before 5.19)."""
        return False

    def gup_refuses(self, request: GupRequest) -> bool:
        """check_vma_flags fails the GUP with -EFAULT before any page is looked up (never, for what the world
        asks, before 6.5)."""
        return False

    def iouring_refuses(self, file_backed: bool) -> bool:
        """io_uring's buffer registration fails (-EOPNOTSUPP) after pinning: since io_uring's fixed buffers
        (5.1) it refused every file-backed VMA but hugetlbfs, and unpinned what it had pinned. ``file_backed``:
        the buffer's VMA maps a file that is not a hugetlbfs one (is_file_hugepages)."""
        return file_backed

    def unshare(self, page: PageInfo) -> Unshare:
        """An unsharing fault (only reached by policies whose ``gup`` asks for one)."""
        return Unshare.COPY

    def clear_refs_skips(self, page: PageInfo, pte_writable: bool) -> bool:
        """clear_refs(4) leaves this PTE alone (neither write-protects it nor clears soft-dirty)."""
        return False

    def wrprotect_skips(self, page: PageInfo) -> bool:
        """mprotect(PROT_READ) / uffd-wp leave this PTE writable."""
        return False

    def mprotect_makes_writable(self, page: PageInfo, pte_soft_dirty: bool) -> bool:
        """mprotect(PROT_READ|PROT_WRITE) sets the write bit on this private anonymous PTE directly.
        ``pte_soft_dirty``: soft-dirty tracking needs no write fault here (the PTE is soft-dirty, or the kernel
        tracks no soft-dirty: ``config.KernelConfig``)."""
        return False

    def forced_write_follows(self, page: PageInfo, cowed: bool, pte_dirty: bool, fault_needed: bool) -> bool:
        """A FOLL_FORCE write (ptrace, /proc/pid/mem) finds a read-only PTE in a private mapping without
        VM_WRITE: write through it (can_follow_write_pte), or fault first? ``cowed``: this GUP has already had
        a write fault answered by reuse or copy (FOLL_COW); ``pte_dirty``: the PTE is dirty (the zero page's
        never is); ``fault_needed``: soft-dirty or uffd-wp tracking wants a write fault. From 19be0eaffa3a
        (the Dirty COW fix, v4.8.3/v4.9) to v5.19: follow only after this GUP's COW fault, a dirty PTE."""
        return cowed and pte_dirty

    def large_reuse_unlocked(self, page: PageInfo) -> LargeLook:
        """The first look of a write fault at a page of a large folio that is not exclusive, without the large
        mapcount's lock (asked only of a policy that tracks MM owners, in a world that runs the fault in two
        steps): whether to take the lock and look again."""
        return self.write_fault(page) is WriteFault.REUSE, ()

    def large_reuse_locked(self, page: PageInfo) -> LargeLook:
        """The second look, under folio_lock_large_mapcount: whether to reuse the page."""
        return self.write_fault(page) is WriteFault.REUSE, ()

    def large_reuse_frees_swap(self, page: PageInfo) -> bool:
        """Before its looks at a large folio in the swap cache, does the write fault try to free the folio's swap
        cache (folio_free_swap under folio_trylock, which fails while any PTE is still one of its swap
        entries)? (Asked only of a page of a large folio that is not exclusive.)"""
        return False

    def uffdio_move_refuses(self, page: PageInfo) -> bool:
        """UFFDIO_MOVE of this anonymous page fails with EBUSY (asked only where the ioctl exists)."""
        return True

    def __repr__(self) -> str:
        return f"<policy {self.name}>"
