"""C3b-hugetlb: C3b (c3b_vmsplice_child_ordered.py) on hugetlb memory, as cow.c runs test_vmsplice_in_child "with
hugetlb".

The memory is one private anonymous hugetlb page (MAP_PRIVATE|MAP_HUGETLB); the threads do what C3b's do.

CVE-2020-29374 on hugetlb: hugetlb_wp reuses a page mapped once and never looks at the refcount, so once the
child unmapped it the parent's write reuses the page its pipe still holds, in every merged era but one (cow.c
marks it an expected failure: "harder to fix and nobody really cares"). The one is v5.8: 17839856fd58's forced
COW break in GUP covers hugetlb's GUP path too (follow_hugetlb_page, read in the 5.7.14 backport and 5.8.1:
predicates-check.md section 2), so the child's vmsplice takes its own copy, and 09854ba94c6a took that out
again in v5.9.
"""

from dataclasses import replace
from pathlib import Path

from modelcheck.spec import load_spec

BASE = load_spec(Path(__file__).with_name("c3b_vmsplice_child_ordered.py"))

SPEC = replace(
    BASE,
    id=BASE.id + "-hugetlb",
    title=BASE.title + " (hugetlb)",
    world=lambda **params: BASE.world(**params).with_hugetlb(),
    mirrors=[("cow.c", "test_vmsplice_in_child", "hugetlb")],
    expect={
        "dirty_cow": "violated", "mapcount": "violated", "gup_cow_break": "holds", "page_count": "violated",
        "page_count_early_cow": "violated", "page_count_fork_copy": "violated", "refcount_5_18": "violated",
        "anon_exclusive": "violated", "anon_exclusive_6_2": "violated", "per_vma_lock_6_4": "violated",
        "odirect_pins_6_5": "violated", "uffd_wp_async_6_7": "violated", "uffd_move_6_8": "violated",
        "large_folio_6_9": "violated", "large_swapin_6_11": "violated", "huge_zero_thp_6_13": "violated",
        "mm_owner_6_15_rc1": "violated", "mm_owner_6_15": "violated", "mainline_7_3": "violated",
    },
)
