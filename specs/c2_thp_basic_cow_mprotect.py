"""C2-thp: C2 (c2_basic_cow_mprotect.py) on a PMD-mapped THP, as cow.c runs test_cow_in_parent_mprotect "with
PMD-mapped THP".

cow.c mprotect()s the whole THP, so the twin's mprotect is of the whole range (``mprotect_thp_ro``,
``mprotect_thp_rw``, ``CowWorld.over_the_whole_thp``: change_huge_pmd while a PMD maps it, else each PTE).

Every era holds: before v6.2 mprotect never maps a PMD writable, and from v6.2 (c27f479ef542,
can_change_pmd_writable) only a PMD whose head is PG_anon_exclusive, which fork cleared.
"""

from dataclasses import replace
from pathlib import Path

from modelcheck.spec import load_spec

BASE = load_spec(Path(__file__).with_name("c2_basic_cow_mprotect.py"))

SPEC = replace(
    BASE,
    id=BASE.id + "-thp",
    title=BASE.title + " (PMD-mapped THP)",
    world=lambda **params: BASE.world(**params).with_thp(2).over_the_whole_thp(),
    mirrors=[("cow.c", "test_cow_in_parent_mprotect", "thp")],
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
