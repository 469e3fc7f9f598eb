"""B3 (cow-after-2022 §1.3, P15): a write fault under the per-VMA lock while fork has not yet flushed the TLB.

The parent has three threads, each on its own CPU. parent.2 stores to a0 (its TLB caches a writable
translation). parent forks: dup_mmap write-protects a0's PTE, COW-shares the page with the child, and flushes
the parent's TLB only at its end, before dropping mmap_lock. In that window parent.3 stores to another part of
the page: its CPU walks the page table, finds the PTE read-only and write-faults; the page is shared, so
wp_page_copy copies it (the copy is taken first, the new PTE installed and flushed later). parent.2 stores
again through its stale writable entry: the store lands in the old page, now the child's alone, after the copy
was taken; parent.2's next load reads the copy: its write is lost (no_lost_write).

* before 6.4: the fault takes mmap_lock for reading and waits for fork, whose flush ends the stale entry
  first: holds (every policy up to ``anon_exclusive_6_2``, and the proposals);
* 6.4 (``per_vma_lock_6_4``, 0bff0aaea03e): the fault holds only the VMA's read lock and runs inside fork's
  window: violated (the memory corruption reported against 6.4, bugzilla 217624);
* 6.5 on (fb49c455323f): fork write-locks each VMA first, the fault waits: holds.
"""

from modelcheck import Spec
from modelcheck.cow import CowWorld

SPEC = Spec(
    id="B3",
    title="fork vs a page fault under the per-VMA lock: stale TLB, lost write",
    world=lambda: CowWorld.scripted({
        "parent": ["fork"],
        "parent.2": ["store a0", "store a0", "load a0"],
        "parent.3": ["store a0.1"],
    }, tlb=True),
    invariants=["no_lost_write"],
    expect={policy: "holds" for policy in (
        "dirty_cow", "mapcount", "gup_cow_break", "page_count", "page_count_early_cow", "page_count_fork_copy",
        "refcount_5_18", "anon_exclusive", "anon_exclusive_6_2", "odirect_pins_6_5", "uffd_wp_async_6_7",
        "uffd_move_6_8", "large_folio_6_9", "large_swapin_6_11", "huge_zero_thp_6_13", "mm_owner_6_15_rc1",
        "mm_owner_6_15", "mainline_7_3",
        "andrea_cor", "jason_2020",
        "page_count_refuse_wrprotect")} | {
        "per_vma_lock_6_4": "violated",  # 6.4 to 6.4.2: fixed by fb49c455323f (6.5), in 6.4.y first disabled
    },
)
