"""C6-single-pte-swapped: C6 (c6_vmsplice_parent_after_fork.py) on a single PTE of a swapped-out THP, as cow.c runs
test_vmsplice_after_fork "with single PTE of swapped-out THP".

The THP (two pages) loses every page but its first (``CowWorld.single_pte_of_thp(swapped=True)``), which is then
paged out: MADV_PAGEOUT of one page of a larger folio splits the folio (split_folio) and reclaims the page as a base
page.

The verdicts are C12-C6's (the same test on a swapped-out base page): after the swap-out the pages are base pages,
and the swap-in decides as there.
"""

from dataclasses import replace
from pathlib import Path

from modelcheck.spec import load_spec

BASE = load_spec(Path(__file__).with_name("c6_vmsplice_parent_after_fork.py"))

SPEC = replace(
    BASE,
    id=BASE.id + "-single-pte-swapped",
    title=BASE.title + " (single PTE of a swapped-out THP)",
    world=lambda **params: BASE.world(**params).with_thp(2).single_pte_of_thp(swapped=True),
    mirrors=[("cow.c", "test_vmsplice_after_fork", "single-pte-thp-swapped")],
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
