"""O10c (LRU batch on another CPU): the fault's drain is local, so a page in a remote CPU's batch is copied.

The parent has two threads pinned to two CPUs (sched_setaffinity, as a test
pins them): ``parent.2`` on CPU 1 faults the page in (its first store: a
fresh page, which folio_add_lru puts in CPU 1's LRU add batch), and signals;
``parent`` on CPU 0 forks, the child exits and is reaped, and the parent
stores to the page, mapped once, no longer exclusive (fork shared it), its
refcount 2: its PTE and CPU 1's batch.

* v5.18 on (d4c470970d45; mainline's 8d596d8b81ef the same here: refcount
  2 <= 1 + not-on-LRU + swap cache): the page is not on the LRU, so the fault
  calls lru_add_drain(), which drains CPU 0's batches only (mm/swap.c in
  7.1.5: lru_add_drain_cpu(smp_processor_id()); wp_can_reuse_anon_folio's
  comment there says references from remote LRU caches are not handled).
  The refcount is still 2 and the fault copies a page only its own mapping
  and a batch hold: no_spurious_copy violated, unless CPU 1 happened to
  drain its batch first (kernel lru_drain). On the live kernel the copy is
  seen now and then (a few in a few hundred runs): CPU 1 usually drains
  soon after, when it is idle or its batch fills.
* 5.19 on: PG_anon_exclusive does not help: fork cleared it.
* v5.9-v5.17 (09854ba94c6a): refcount 2, copied whatever the batch: violated.
* mapcount rule (<= v5.8): mapcount 1, reused: holds.

Spec O10c-local is the same with both threads on CPU 0: the local drain
takes the batch's reference and the page is reused.
"""

from modelcheck import Spec
from modelcheck.cow import CowWorld

SPEC = Spec(
    id="O10c-remote-lru",
    title="page in a remote CPU's LRU batch => spurious COW despite the drain",
    world=lambda: CowWorld.scripted({
        "parent": ["await faulted", "fork", "wait child1", "store a0"],
        "parent.2": ["store a0", "signal faulted"],
        "child1": ["exit"],
    }, events=["lru"], fresh=["a0"], cpus={"parent": 0, "parent.2": 1}),
    invariants=["no_spurious_copy"],
    expect={
        "dirty_cow": "holds",  # the mapcount rule before 19be0eaffa3a: only FOLL_FORCE differs
        "mapcount": "holds",                    # mapcount 1: reused
        "gup_cow_break": "holds",
        "page_count": "violated",               # 09854ba94c6a: refcount 2 copies
        "page_count_fork_copy": "violated",
        "refcount_5_18": "violated",            # d4c470970d45: lru_add_drain() is local; CPU 1's batch keeps its ref
        "anon_exclusive": "violated",           # fork cleared PG_anon_exclusive: the 5.18 chain decides
        "anon_exclusive_6_2": "violated",
        "per_vma_lock_6_4": "violated",  # as anon_exclusive_6_2: the per-VMA lock shows only with TLBs
        "odirect_pins_6_5": "violated",
        "uffd_wp_async_6_7": "violated",
        "uffd_move_6_8": "violated",  # as uffd_wp_async_6_7 (no UFFDIO_MOVE here)
        "mainline_7_3": "violated",             # 8d596d8b81ef: 2 <= 1 + 1 + 0, drains (locally) and copies
        "andrea_cor": "holds",                  # mapcount reuse
        "jason_2020": "violated",               # page_count reuse; not maybe-pinned
        "page_count_refuse_wrprotect": "violated",
    },
)
