"""C5-hugetlb: C5 (c5_vmsplice_before_fork.py) on hugetlb memory, as cow.c runs test_vmsplice_before_fork "with
hugetlb".

The memory is one private anonymous hugetlb page (MAP_PRIVATE|MAP_HUGETLB); the threads do what C5's do.

The same leak the other way: the child's write reuses the page the parent's pipe holds once the parent unmapped
it, in every era (the parent's vmsplice is of a writable page, so no forced COW break helps); cow.c's expected
failure.
"""

from dataclasses import replace
from pathlib import Path

from modelcheck.spec import load_spec

BASE = load_spec(Path(__file__).with_name("c5_vmsplice_before_fork.py"))

SPEC = replace(
    BASE,
    id=BASE.id + "-hugetlb",
    title=BASE.title + " (hugetlb)",
    world=lambda **params: BASE.world(**params).with_hugetlb(),
    mirrors=[("cow.c", "test_vmsplice_before_fork", "hugetlb")],
    expect={
        "dirty_cow": "violated", "mapcount": "violated", "gup_cow_break": "violated", "page_count": "violated",
        "page_count_early_cow": "violated", "page_count_fork_copy": "violated", "refcount_5_18": "violated",
        "anon_exclusive": "violated", "anon_exclusive_6_2": "violated", "per_vma_lock_6_4": "violated",
        "odirect_pins_6_5": "violated", "uffd_wp_async_6_7": "violated", "uffd_move_6_8": "violated",
        "large_folio_6_9": "violated", "large_swapin_6_11": "violated", "huge_zero_thp_6_13": "violated",
        "mm_owner_6_15_rc1": "violated", "mm_owner_6_15": "violated", "mainline_7_3": "violated",
    },
)
