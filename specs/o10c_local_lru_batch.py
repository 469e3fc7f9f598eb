"""O10c (LRU batch on the faulting CPU): the fault's local drain takes the batch's reference, the page is reused.

O10c-remote-lru with both of the parent's threads pinned to CPU 0:
``parent.2`` faults the page in (a fresh page in CPU 0's LRU add batch) and
signals; ``parent`` forks, the child exits and is reaped, and the parent
stores to the page, mapped once, not exclusive (fork shared it), refcount 2:
its PTE and CPU 0's batch.

* v5.18 on (d4c470970d45; 8d596d8b81ef alike: 2 <= 1 + not-on-LRU + swap
  cache): the page is not on the LRU, so lru_add_drain() drains this CPU's
  batch, the refcount drops to 1, and the page is reused: holds.
* v5.9-v5.17 (09854ba94c6a): refcount 2, copied: violated (O10's
  "unnecessary COW" of S10).
* mapcount rule (<= v5.8): mapcount 1, reused: holds.
"""

from modelcheck import Spec
from modelcheck.cow import CowWorld

SPEC = Spec(
    id="O10c-local-lru",
    title="page in the faulting CPU's LRU batch: the local drain lets it be reused",
    world=lambda: CowWorld.scripted({
        "parent": ["await faulted", "fork", "wait child1", "store a0"],
        "parent.2": ["store a0", "signal faulted"],
        "child1": ["exit"],
    }, events=["lru"], fresh=["a0"], cpus={"parent": 0, "parent.2": 0}),
    invariants=["no_spurious_copy"],
    expect={
        "dirty_cow": "holds",  # the mapcount rule before 19be0eaffa3a: only FOLL_FORCE differs
        "mapcount": "holds",
        "gup_cow_break": "holds",
        "page_count": "violated",               # 09854ba94c6a: the batch's reference makes refcount 2
        "page_count_fork_copy": "violated",
        "refcount_5_18": "holds",               # d4c470970d45: the local drain, then refcount 1
        "anon_exclusive": "holds",
        "anon_exclusive_6_2": "holds",
        "per_vma_lock_6_4": "holds",  # as anon_exclusive_6_2: the per-VMA lock shows only with TLBs
        "odirect_pins_6_5": "holds",
        "uffd_wp_async_6_7": "holds",
        "uffd_move_6_8": "holds",  # as uffd_wp_async_6_7 (no UFFDIO_MOVE here)
        "mainline_7_3": "holds",                # 8d596d8b81ef: 2 <= 1 + 1 + 0, drains and reuses
        "andrea_cor": "holds",
        "jason_2020": "violated",
        "page_count_refuse_wrprotect": "violated",
    },
)
