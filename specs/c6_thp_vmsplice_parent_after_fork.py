"""C6-thp: C6 (c6_vmsplice_parent_after_fork.py) on a PMD-mapped THP, as cow.c runs test_vmsplice_after_fork "with
PMD-mapped THP".

The memory is one THP of two pages (standing for a PMD's 512), mapped by one PMD in the parent; the threads
do what C6's do. Its munmap of the page is cow.c's munmap of the whole range: the THP's
(``munmap_thp``).

As C5-thp: the child's write reuses the THP on its mapcount until v5.18 (v5.8's forced COW break
in GUP makes the parent's vmsplice take its own copy first, so it holds there).
"""

from dataclasses import replace
from pathlib import Path

from modelcheck.spec import load_spec

BASE = load_spec(Path(__file__).with_name("c6_vmsplice_parent_after_fork.py"))

SPEC = replace(
    BASE,
    id=BASE.id + "-thp",
    title=BASE.title + " (PMD-mapped THP)",
    world=lambda **params: BASE.world(**params).with_thp(2).over_the_whole_thp(),
    mirrors=[("cow.c", "test_vmsplice_after_fork", "thp")],
    expect={
        "dirty_cow": "violated", "mapcount": "violated", "gup_cow_break": "holds", "page_count": "violated",
        "page_count_early_cow": "violated", "page_count_fork_copy": "violated", "refcount_5_18": "holds",
        "anon_exclusive": "holds", "anon_exclusive_6_2": "holds", "per_vma_lock_6_4": "holds",
        "odirect_pins_6_5": "holds", "uffd_wp_async_6_7": "holds", "uffd_move_6_8": "holds",
        "large_folio_6_9": "holds", "large_swapin_6_11": "holds", "huge_zero_thp_6_13": "holds",
        "mm_owner_6_15_rc1": "holds",
        "mm_owner_6_15": "holds", "mainline_7_3": "holds",
    },
)
