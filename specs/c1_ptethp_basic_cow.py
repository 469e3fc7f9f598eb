"""C1-ptethp: C1 (c1_basic_cow.py) on a PTE-mapped THP, as cow.c runs test_cow_in_parent "with PTE-mapped THP".

The memory is one THP of two pages mapped by PTEs (its PMD split first, as cow.c does by mprotect of part of
it and back); the threads do what C1's do.

Every era gives C1's verdict (docs/policies.md, THP, says why a page of a PTE-mapped THP is decided so).
"""

from dataclasses import replace
from pathlib import Path

from modelcheck.spec import load_spec

BASE = load_spec(Path(__file__).with_name("c1_basic_cow.py"))

SPEC = replace(
    BASE,
    id=BASE.id + "-ptethp",
    title=BASE.title + " (PTE-mapped THP)",
    world=lambda **params: BASE.world(**params).with_thp(2, pte_mapped=True),
    mirrors=[("cow.c", "test_cow_in_parent", "pte-mapped-thp")],
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
