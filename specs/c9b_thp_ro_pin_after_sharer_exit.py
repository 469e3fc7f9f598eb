"""C9b-thp: C9b (c9b_ro_pin_after_sharer_exit.py) on a PMD-mapped THP, as cow.c runs
test_ro_pin_on_ro_previously_shared "with PMD-mapped THP".

The memory is one THP of two pages (standing for a PMD's 512), mapped by one PMD in the parent; the threads
do what C9b's do.

Unlike C9b, the THP survives v5.9 to v5.17: its write fault still asks the mapcount (1 once the
child exited) and reuses the pinned THP. 3bff7e3f1f16 (v5.18) makes the fault count the pin and split and
copy: violated there, until PG_anon_exclusive (v5.19) lets the R/O pin unshare (mark exclusive) first.
"""

from dataclasses import replace
from pathlib import Path

from modelcheck.spec import load_spec

BASE = load_spec(Path(__file__).with_name("c9b_ro_pin_after_sharer_exit.py"))

SPEC = replace(
    BASE,
    id=BASE.id + "-thp",
    title=BASE.title + " (PMD-mapped THP)",
    world=lambda **params: BASE.world(**params).with_thp(2),
    mirrors=[("cow.c", "test_ro_pin_on_ro_previously_shared", "thp")],
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
