"""C9b-fast-ptethp-swapped: C9b-fast (c9bf_ro_fast_pin_after_sharer_exit.py) on a swapped-out PTE-mapped THP, as cow.c
runs test_ro_fast_pin_on_ro_previously_shared "with swapped-out, PTE-mapped THP".

The PTE-mapped THP (two pages) is paged out first (``CowWorld.thp_swapped_out``: MADV_PAGEOUT of the whole range,
``pageout_thp``): every PTE becomes a swap entry that keeps its page's PG_anon_exclusive, and once written the folio
is freed, so each swap-in brings a base page back. The test gets the whole THP, so its munmap and mprotect are of
the whole range (``over_the_whole_thp``).

The verdicts are C12-C9b-fast's (the same test on a swapped-out base page): after the swap-out the pages are base
pages, and the swap-in decides as there.
"""

from dataclasses import replace
from pathlib import Path

from modelcheck.spec import load_spec

BASE = load_spec(Path(__file__).with_name("c9bf_ro_fast_pin_after_sharer_exit.py"))

SPEC = replace(
    BASE,
    id=BASE.id + "-ptethp-swapped",
    title=BASE.title + " (swapped-out PTE-mapped THP)",
    world=lambda **params: BASE.world(**params).with_thp(2, pte_mapped=True).over_the_whole_thp().thp_swapped_out(),
    mirrors=[("cow.c", "test_ro_fast_pin_on_ro_previously_shared", "pte-mapped-thp-swapped")],
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
