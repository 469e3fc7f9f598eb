"""C7-ptethp: C7 (c7_iouring_mprotect.py) on a PTE-mapped THP, as cow.c runs test_iouring_ro "with PTE-mapped THP".

cow.c mprotect()s the whole THP, so the twin's mprotect is of the whole range (``mprotect_thp_ro``,
``mprotect_thp_rw``, ``CowWorld.over_the_whole_thp``: change_huge_pmd while a PMD maps it, else each PTE).

C7's verdicts: a PTE-level fault on a page of the folio, where the pin's references make v5.9 to v5.18 copy; before
v5.9 page_trans_huge_mapcount reuses, and from v5.19 PG_anon_exclusive does.
"""

from dataclasses import replace
from pathlib import Path

from modelcheck.spec import load_spec

BASE = load_spec(Path(__file__).with_name("c7_iouring_mprotect.py"))

SPEC = replace(
    BASE,
    id=BASE.id + "-ptethp",
    title=BASE.title + " (PTE-mapped THP)",
    world=lambda **params: BASE.world(**params).with_thp(2, pte_mapped=True).over_the_whole_thp(),
    mirrors=[("cow.c", "test_iouring_ro", "pte-mapped-thp")],
    expect={
        "dirty_cow": "holds", "mapcount": "holds", "gup_cow_break": "holds", "page_count": "violated",
        "page_count_early_cow": "violated", "page_count_fork_copy": "violated", "refcount_5_18": "violated",
        "anon_exclusive": "holds", "anon_exclusive_6_2": "holds", "per_vma_lock_6_4": "holds",
        "odirect_pins_6_5": "holds", "uffd_wp_async_6_7": "holds", "uffd_move_6_8": "holds",
        "large_folio_6_9": "holds", "large_swapin_6_11": "holds", "huge_zero_thp_6_13": "holds",
        "mm_owner_6_15_rc1": "holds",
        "mm_owner_6_15": "holds", "mainline_7_3": "holds",
    },
)
