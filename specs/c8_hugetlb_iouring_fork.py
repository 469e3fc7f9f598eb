"""C8-hugetlb: C8 (c8_iouring_fork.py) on hugetlb memory, as cow.c runs test_iouring_fork "with hugetlb".

The memory is one private anonymous hugetlb page (MAP_PRIVATE|MAP_HUGETLB); the threads do what C8's do.

fork copies a maybe-pinned hugetlb page for the child only from 4eae4efa2c29 (v5.12), a release after
70e806e4e645 did it for base pages: violated under page_count_early_cow (v5.9, v5.10), where C8 holds.
"""

from dataclasses import replace
from pathlib import Path

from modelcheck.spec import load_spec

BASE = load_spec(Path(__file__).with_name("c8_iouring_fork.py"))

SPEC = replace(
    BASE,
    id=BASE.id + "-hugetlb",
    title=BASE.title + " (hugetlb)",
    world=lambda **params: BASE.world(**params).with_hugetlb(),
    mirrors=[("cow.c", "test_iouring_fork", "hugetlb")],
    expect={
        "dirty_cow": "violated", "mapcount": "violated", "gup_cow_break": "violated", "page_count": "violated",
        "page_count_early_cow": "violated", "page_count_fork_copy": "holds", "refcount_5_18": "holds",
        "anon_exclusive": "holds", "anon_exclusive_6_2": "holds", "per_vma_lock_6_4": "holds",
        "odirect_pins_6_5": "holds", "uffd_wp_async_6_7": "holds", "uffd_move_6_8": "holds",
        "large_folio_6_9": "holds", "large_swapin_6_11": "holds", "huge_zero_thp_6_13": "holds",
        "mm_owner_6_15_rc1": "holds",
        "mm_owner_6_15": "holds", "mainline_7_3": "holds",
    },
)
