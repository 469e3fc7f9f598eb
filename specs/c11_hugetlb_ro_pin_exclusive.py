"""C11-hugetlb: C11 (c11_ro_pin_exclusive.py) on hugetlb memory, as cow.c runs test_ro_pin_on_ro_exclusive "with
hugetlb".

As C7-hugetlb: hugetlb_wp reuses the page mapped once in every era, so the R/O pin stays coherent.
"""

from dataclasses import replace
from pathlib import Path

from modelcheck.spec import load_spec

BASE = load_spec(Path(__file__).with_name("c11_ro_pin_exclusive.py"))

SPEC = replace(
    BASE,
    id=BASE.id + "-hugetlb",
    title=BASE.title + " (hugetlb)",
    world=lambda **params: BASE.world(**params).with_hugetlb(),
    mirrors=[("cow.c", "test_ro_pin_on_ro_exclusive", "hugetlb")],
    expect={
        "dirty_cow": "holds", "mapcount": "holds", "gup_cow_break": "holds", "page_count": "holds",
        "page_count_early_cow": "holds", "page_count_fork_copy": "holds", "refcount_5_18": "holds",
        "anon_exclusive": "holds", "anon_exclusive_6_2": "holds", "per_vma_lock_6_4": "holds",
        "odirect_pins_6_5": "holds", "uffd_wp_async_6_7": "holds", "uffd_move_6_8": "holds",
        "large_folio_6_9": "holds", "large_swapin_6_11": "holds", "huge_zero_thp_6_13": "holds",
        "mm_owner_6_15_rc1": "holds",
        "mm_owner_6_15": "holds", "mainline_7_3": "holds",
    },
)
