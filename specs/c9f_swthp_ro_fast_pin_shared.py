"""C9-fast-thp-swapped: C9-fast (c9f_ro_fast_pin_shared.py) on a swapped-out PMD-mapped THP, as cow.c runs
test_ro_fast_pin_on_shared "with swapped-out, PMD-mapped THP".

The THP (two pages, standing for a PMD's 512) is paged out first (``CowWorld.thp_swapped_out``: MADV_PAGEOUT of the
whole range, ``pageout_thp``): try_to_unmap splits the PMD and makes every PTE a swap entry that keeps its page's
PG_anon_exclusive, and once written the folio is freed, so each swap-in brings a base page back. The test gets the
whole THP, so its munmap and mprotect are of the whole range (``over_the_whole_thp``).

The verdicts are C12-C9-fast's (the same test on a swapped-out base page): after the swap-out the pages are base
pages, and the swap-in decides as there.
"""

from dataclasses import replace
from pathlib import Path

from modelcheck.spec import load_spec

BASE = load_spec(Path(__file__).with_name("c9f_ro_fast_pin_shared.py"))

SPEC = replace(
    BASE,
    id=BASE.id + "-thp-swapped",
    title=BASE.title + " (swapped-out PMD-mapped THP)",
    world=lambda **params: BASE.world(**params).with_thp(2).over_the_whole_thp().thp_swapped_out(),
    mirrors=[("cow.c", "test_ro_fast_pin_on_shared", "thp-swapped")],
    expect={
        "dirty_cow": "violated", "mapcount": "violated", "gup_cow_break": "holds", "page_count": "violated",
        "page_count_early_cow": "violated", "page_count_fork_copy": "violated", "refcount_5_18": "violated",
        "anon_exclusive": "holds", "anon_exclusive_6_2": "holds", "per_vma_lock_6_4": "holds",
        "odirect_pins_6_5": "holds", "uffd_wp_async_6_7": "holds", "uffd_move_6_8": "holds",
        "large_folio_6_9": "holds", "large_swapin_6_11": "holds", "huge_zero_thp_6_13": "holds",
        "mm_owner_6_15_rc1": "holds",
        "mm_owner_6_15": "holds", "mainline_7_3": "holds",
    },
)
