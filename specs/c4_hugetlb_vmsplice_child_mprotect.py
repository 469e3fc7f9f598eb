"""C4-hugetlb: C4 (c4_vmsplice_child_mprotect.py) on hugetlb memory, as cow.c runs test_vmsplice_in_child_mprotect
"with hugetlb" (an expected failure there).

C3b-hugetlb's verdicts: hugetlb_wp reuses a page mapped once whatever its refcount, so the pipe reads the parent's
write in every merged era but v5.8, whose forced COW break in GUP gave the child its own copy.
"""

from dataclasses import replace
from pathlib import Path

from modelcheck.spec import load_spec

BASE = load_spec(Path(__file__).with_name("c4_vmsplice_child_mprotect.py"))

SPEC = replace(
    BASE,
    id=BASE.id + "-hugetlb",
    title=BASE.title + " (hugetlb)",
    world=lambda **params: BASE.world(**params).with_hugetlb(),
    mirrors=[("cow.c", "test_vmsplice_in_child_mprotect", "hugetlb")],
    expect={
        "dirty_cow": "violated", "mapcount": "violated", "gup_cow_break": "holds", "page_count": "violated",
        "page_count_early_cow": "violated", "page_count_fork_copy": "violated", "refcount_5_18": "violated",
        "anon_exclusive": "violated", "anon_exclusive_6_2": "violated", "per_vma_lock_6_4": "violated",
        "odirect_pins_6_5": "violated", "uffd_wp_async_6_7": "violated", "uffd_move_6_8": "violated",
        "large_folio_6_9": "violated", "large_swapin_6_11": "violated", "huge_zero_thp_6_13": "violated",
        "mm_owner_6_15_rc1": "violated", "mm_owner_6_15": "violated", "mainline_7_3": "violated",
    },
)
