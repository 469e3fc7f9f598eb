"""How a world state is laid out in one flat tuple of small ints.

Sections, in order; a section exists only when the world uses it, so a small
world (the reference world) stores exactly what reference-world.md counts:

    nforks                      the parent's forks so far (child i exists iff i <= nforks)
    pte[p*M + a]                every process's PTE for every address
    pipe[p]                     a page held by p's pipe (vmsplice), when pipes exist
    value[g*C + c]              every page slot's value, per cell (0 = free)
    spec[g]                     speculative references, when S > 0
    pageflags[g]                PG_anon_exclusive, in an LRU batch (and which CPU's), KSM, when used
    vma[p*M + a]                VM_WRITE, VM_DONTFORK, when mprotect/madvise are used
    mm[p]                       MMF_HAS_PINNED, exited, when pins or exit are used
    pmd[p]                      1 while p maps the THP's range with one PMD, in a world with a THP
    folio[g]                    in a world with a THP: (head + 1) << 3 | index for a page of a large folio, else 0
    owners[g]                   a large folio's MM-owner slots (6.15), on its head: ``thp.OwnerSlots`` packed
    gather[p]                   a PMD p's munmap cleared and has not finished unmapping (6.15's worlds, where a
                                write fault elsewhere reads the folio's counters in two looks): GATHER_*
    pc[t]                       each thread's program counter, in a scripted scenario
    holder[h]                   the page each GUP reference of the scenario holds
    token[k]                    1 once the scenario's token k is signalled (signal / await)
    last[(p*M + a)*C + c]       ghost: the owner's last completed write (no_lost_write)
    wp[p*M + a]                 ghost: a write-protect request not yet answered by a fault
                                (wrprotect_effective)
    uffd[p*M + a]               ghost: write-protected through a synchronous userfaultfd, not yet
                                unprotected (uffd_wp_effective)
    tlb[t*M + a]                each thread's (CPU's) cached translation, possibly stale
    step[t]                     how far a thread is into an operation the kernel splits (with TLBs, or where
                                GUP-fast's lockless walk can race with another thread)
    fault[t]                    a copy fault in flight: (new page + 1) | (old page + 1) << 8
    force[t]                    a FOLL_FORCE write between its fault and its retry (FORCE_*), when one is used
    scheduled                   how many steps of the scenario's schedule have been taken, when it has one
    warned                      ghost: the kernel warnings (VM_WARN_ON_ONCE) fired so far, one bit each
                                (no_kernel_warning)

Mapcount and refcount are never stored: they follow from the rest.

Encodings (0 always means "nothing"):
  PTE     (page + 1) << 5 | writable | soft-dirty << 1 | uffd-wp << 2 | swap << 3 | swap-exclusive << 4
          (a present PTE: dirty << 4)
  pipe, holder   page + 1
  value   a tag naming the write that produced it (see ``model``)
"""

from __future__ import annotations

from dataclasses import dataclass, field

PTE_WRITE = 1
PTE_SOFTDIRTY = 2
PTE_UFFD_WP = 4
PTE_SWAP = 8             # not present: a swap entry for the page's swap slot (the page stays in the swap cache)
PTE_SWAP_EXCLUSIVE = 16  # the swap entry remembers the page was exclusive (5.19's swp-PTE bit)
# the same bit of a present PTE: dirty, kept for a page that is not anonymous (every anonymous page of the world
# is dirty wherever it is mapped: it was written, or faulted in for a write); only UFFDIO_CONTINUE sets it
PTE_DIRTY = 16
PTE_SHIFT = 5
PTE_FLAG_MASK = (1 << PTE_SHIFT) - 1  # every bit of a PTE code but the page

PAGE_EXCLUSIVE = 1  # PG_anon_exclusive
PAGE_LRU_BATCH = 2  # sitting in a per-CPU LRU batch, which holds a reference
PAGE_SWAPCACHE = 4  # in the swap cache, which holds a reference
PAGE_LOCKED = 8     # PG_locked, held for a while by some other kernel path
PAGE_KSM = 16       # a KSM page (PageKsm): write-protected wherever mapped, never PG_anon_exclusive
PAGE_HUGETLB = 128  # a hugetlb page (a hugetlbfs folio of MAP_PRIVATE|MAP_HUGETLB memory): never split or swapped
PAGE_UNMAPPING = 256  # try_to_unmap cleared the page's one PTE and holds it (to restore, or to make a swap entry)
PAGE_KSM_REPLACING = 512  # ksmd write-protected the page and holds its lock, to map the KSM page in its place next
PAGE_WRITEBACK = 1024  # PG_writeback: the swap device is still writing the page (its folio) out
UNMAPPING_SHIFT = 11  # with PAGE_UNMAPPING: the PTE's flag bits from here (4 bits: ``present_bits``), and its
                      # slot's index above them (all of it below 1 << 16, as a compact store keeps a slot)
LRU_CPU_SHIFT = 5   # with PAGE_LRU_BATCH: the CPU whose batch holds the page, in the two bits from here
LRU_CPU_MASK = 3 << LRU_CPU_SHIFT

VMA_WRITE = 1
VMA_DONTFORK = 2
VMA_UFFD_WP = 4  # registered for userfaultfd write-protect
VMA_UFFD_WP_ASYNC = 8  # ... through a userfaultfd opened with UFFD_FEATURE_WP_ASYNC (6.7)
VMA_MERGEABLE = 16  # VM_MERGEABLE: madvise(MADV_MERGEABLE) let ksmd merge its pages

MM_HAS_PINNED = 1
MM_EXITED = 2
MM_FLUSH_PENDING = 4  # unit of mm->tlb_flush_pending, a count in the bits above the flags

FOLIO_INDEX_BITS = 3  # folio[g]: (head + 1) << FOLIO_INDEX_BITS | g's index in its folio
MOST_THP_PAGES = 1 << FOLIO_INDEX_BITS


OWNERS_SHARED = 1 << 14  # owners[g]: the "maybe mapped shared" bit, above two 3-bit MM ids and two 4-bit counts


def owner_ids(word: int) -> tuple[int, int]:
    """The MMs (process + 1; 0: a free slot) an ``owners[g]`` word's two slots hold (folio_mm_id)."""
    return word & 7, word >> 3 & 7


# gather[p]: (head + 1) << GATHER_SHIFT | what of the PMD's mapping the folio still counts. zap_huge_pmd clears
# the PMD, then folio_remove_rmap_pmd drops the large mapcount (folio_dec_large_mapcount, which updates the MM
# owners) and after it the entire mapcount (CONFIG_PAGE_MAPCOUNT's order, the 7.1.5 tree's mm/rmap.c); the
# mmu_gather drops the PMD's reference only when munmap flushes the TLB (tlb_finish_mmu)
GATHER_MAPPED = 1  # the large mapcount still counts the PMD
GATHER_ENTIRE = 2  # the entire mapcount still counts it
GATHER_REFERENCE = 4  # the mmu_gather holds its reference
GATHER_SHIFT = 3


def folio_code(head: int, index: int) -> int:
    return (head + 1) << FOLIO_INDEX_BITS | index


TLB_WRITE = 1  # a TLB entry is (page + 1) << 1 | writable

FORCE_FAULTED = 1  # a FOLL_FORCE write has faulted and will look at the PTE again
FORCE_COWED = 2    # ... and that fault broke COW (VM_FAULT_WRITE: FOLL_COW, or FOLL_WRITE dropped before 4.9)


def present_bits(pte: int) -> int:
    """A present PTE's flag bits in four (it has no swap bit): writable, soft-dirty, uffd-wp, dirty."""
    return pte & 7 | (pte & PTE_DIRTY) >> 1


def present_flags(bits: int) -> int:
    """The flag bits ``present_bits`` packed, as a PTE has them."""
    return bits & 7 | (bits & 8) << 1


def pte_make(page: int, writable: bool, flags: int = 0) -> int:
    return (page + 1) << PTE_SHIFT | int(writable) | flags


def pte_page(pte: int) -> int:
    return (pte >> PTE_SHIFT) - 1


def pte_writable(pte: int) -> bool:
    return bool(pte & PTE_WRITE)


def swap_entry(page: int, exclusive: bool, flags: int = 0) -> int:
    """A swap PTE for the swap slot of ``page``; soft-dirty and uffd-wp bits carry over."""
    return (page + 1) << PTE_SHIFT | PTE_SWAP | (PTE_SWAP_EXCLUSIVE if exclusive else 0) | \
        (flags & (PTE_SOFTDIRTY | PTE_UFFD_WP))


def pte_key(page: int) -> int:
    """The present PTE codes of ``page`` are pte_key(page) .. pte_key(page) + 7 (and + 16 .. + 23, dirty); its
    swap entries are the codes from + 8 to + 31 with the swap bit."""
    return (page + 1) << PTE_SHIFT


@dataclass(frozen=True)
class Features:
    """Which optional sections a world needs."""

    pipes: bool = True
    speculative: int = 0
    pageflags: bool = False
    vma: bool = False
    mm: bool = False
    threads: int = 0
    holders: int = 0
    last_write: bool = False
    write_protect: bool = False
    uffd_protect: bool = False  # ghost: which addresses a synchronous userfaultfd write-protects
    extra_pages: int = 0  # page slots beyond one per mapping, pipe, speculative and GUP reference
    cells: int = 1        # values per page (parts of a page the scenario tells apart)
    tlb: bool = False     # per-thread TLB entries, deferred flushes, a copy fault in two steps
    held: int = 0         # unknown holders: per holder its page + 1, and the least and most (+1, 0: any)
    #                       number of references it may hold (symbolic.py)
    schedule: bool = False  # the scenario pins the order of its first steps (scenario.py)
    tokens: int = 0         # the scenario's tokens (signal T / await T), one slot each
    force: bool = False     # a slot per thread for a FOLL_FORCE write in progress (mechanisms.force)
    steps: bool = False     # a step slot per thread without TLBs: an operation in steps (GUP-fast, fork beside it)
    thp: int = 0            # pages of the world's THP (a0 .. a<thp-1>, PMD-mapped in the parent at first); 0: none
    owners: bool = False    # the policy tracks each large folio's MM owners (6af8cb80d3a9, 6.15)
    gather: bool = False    # a slot per process for a PMD its munmap is unmapping in steps (GATHER_*)
    warnings: bool = False  # ghost: which kernel warnings have fired (no_kernel_warning)


@dataclass(frozen=True)
class Layout:
    """Offsets into the state tuple; computed once, read on every transition."""

    processes: int
    addresses: int
    features: Features = Features()
    pages: int = field(init=False)
    pte_base: int = field(init=False)
    pipe_base: int = field(init=False)
    value_base: int = field(init=False)
    spec_base: int = field(init=False)
    flags_base: int = field(init=False)
    vma_base: int = field(init=False)
    mm_base: int = field(init=False)
    pmd_base: int = field(init=False)
    folio_base: int = field(init=False)
    owners_base: int = field(init=False)
    gather_base: int = field(init=False)
    pc_base: int = field(init=False)
    holder_base: int = field(init=False)
    token_base: int = field(init=False)
    last_base: int = field(init=False)
    wp_base: int = field(init=False)
    uffd_base: int = field(init=False)
    tlb_base: int = field(init=False)
    step_base: int = field(init=False)
    fault_base: int = field(init=False)
    force_base: int = field(init=False)
    held_base: int = field(init=False)
    scheduled_index: int = field(init=False)  # -1 without a schedule
    warned_index: int = field(init=False)     # -1 without the ghost of warnings
    size: int = field(init=False)
    speculative: int = field(init=False)  # features.speculative, read on every refcount: a field, not a property

    def __post_init__(self) -> None:
        P, M, f = self.processes, self.addresses, self.features
        pipes = P if f.pipes else 0
        pages = P * M + pipes + f.speculative + f.holders + f.extra_pages
        offsets = {}
        at = 1 + P * M
        C = f.cells
        for name, length in (("pipe_base", pipes), ("value_base", pages * C),
                             ("spec_base", pages if f.speculative else 0),
                             ("flags_base", pages if f.pageflags else 0),
                             ("vma_base", P * M if f.vma else 0), ("mm_base", P if f.mm else 0),
                             ("pmd_base", P if f.thp else 0), ("folio_base", pages if f.thp else 0),
                             ("owners_base", pages if f.owners else 0), ("gather_base", P if f.gather else 0),
                             ("pc_base", f.threads), ("holder_base", f.holders), ("token_base", f.tokens),
                             ("last_base", P * M * C if f.last_write else 0),
                             ("wp_base", P * M if f.write_protect else 0),
                             ("uffd_base", P * M if f.uffd_protect else 0),
                             ("tlb_base", f.threads * M if f.tlb else 0),
                             ("step_base", f.threads if f.tlb or f.steps else 0),
                             ("fault_base", f.threads if f.tlb else 0),
                             ("force_base", f.threads if f.force else 0),
                             ("held_base", 3 * f.held), ("scheduled_index", 1 if f.schedule else 0),
                             ("warned_index", 1 if f.warnings else 0)):
            offsets[name] = at
            at += length
        object.__setattr__(self, "pages", pages)
        object.__setattr__(self, "pte_base", 1)
        for name, value in offsets.items():
            object.__setattr__(self, name, value)
        if not f.schedule:
            object.__setattr__(self, "scheduled_index", -1)
        if not f.warnings:
            object.__setattr__(self, "warned_index", -1)
        object.__setattr__(self, "size", at)
        object.__setattr__(self, "speculative", f.speculative)

    def pte_index(self, proc: int, addr: int) -> int:
        return 1 + proc * self.addresses + addr

    def value_index(self, page: int, cell: int = 0) -> int:
        return self.value_base + page * self.features.cells + cell

    def last_index(self, proc: int, addr: int, cell: int = 0) -> int:
        return self.last_base + (proc * self.addresses + addr) * self.features.cells + cell
