"""C7-thp: C7 (c7_iouring_mprotect.py) on a PMD-mapped THP, as cow.c runs test_iouring_ro "with PMD-mapped THP".

cow.c mprotect()s the whole THP, so the twin's mprotect is of the whole range (``mprotect_thp_ro``,
``mprotect_thp_rw``, ``CowWorld.over_the_whole_thp``: change_huge_pmd while a PMD maps it, else each PTE).
clear_refs write-protects a PMD pinned or not (clear_soft_dirty_pmd has no pin check).

* to v5.17: the PMD write fault asks the mapcount (reuse_swap_page) and reuses the pinned THP: holds;
* ``refcount_5_18``: 3bff7e3f1f16 asks the refcount, so the pin makes it split and copy: violated;
* 5.19 on: the head is PG_anon_exclusive, the fault reuses it: holds.
"""

from dataclasses import replace
from pathlib import Path

from modelcheck.spec import load_spec

BASE = load_spec(Path(__file__).with_name("c7_iouring_mprotect.py"))

SPEC = replace(
    BASE,
    id=BASE.id + "-thp",
    title=BASE.title + " (PMD-mapped THP)",
    world=lambda **params: BASE.world(**params).with_thp(2).over_the_whole_thp(),
    mirrors=[("cow.c", "test_iouring_ro", "thp")],
    expect={
        "dirty_cow": "holds", "mapcount": "holds", "gup_cow_break": "holds", "page_count": "holds",
        "page_count_early_cow": "holds", "page_count_fork_copy": "holds", "refcount_5_18": "violated",
        "anon_exclusive": "holds", "anon_exclusive_6_2": "holds", "per_vma_lock_6_4": "holds",
        "odirect_pins_6_5": "holds", "uffd_wp_async_6_7": "holds", "uffd_move_6_8": "holds",
        "large_folio_6_9": "holds", "large_swapin_6_11": "holds", "huge_zero_thp_6_13": "holds",
        "mm_owner_6_15_rc1": "holds",
        "mm_owner_6_15": "holds", "mainline_7_3": "holds",
    },
)
