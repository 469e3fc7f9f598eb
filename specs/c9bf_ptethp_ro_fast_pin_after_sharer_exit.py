"""C9b-fast-ptethp: C9b-fast (c9bf_ro_fast_pin_after_sharer_exit.py) on a PTE-mapped THP, as cow.c runs
test_ro_fast_pin_on_ro_previously_shared "with PTE-mapped THP".

C9b-ptethp's verdicts.
"""

from dataclasses import replace
from pathlib import Path

from modelcheck.spec import load_spec

BASE = load_spec(Path(__file__).with_name("c9bf_ro_fast_pin_after_sharer_exit.py"))

SPEC = replace(
    BASE,
    id=BASE.id + "-ptethp",
    title=BASE.title + " (PTE-mapped THP)",
    world=lambda **params: BASE.world(**params).with_thp(2, pte_mapped=True),
    mirrors=[("cow.c", "test_ro_fast_pin_on_ro_previously_shared", "pte-mapped-thp")],
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
