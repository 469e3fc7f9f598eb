"""C6-single-pte: C6 (c6_vmsplice_parent_after_fork.py) on a single PTE of a THP, as cow.c runs
test_vmsplice_after_fork "with single PTE of THP".

The THP (two pages, standing for a PMD's 512) loses every page but its first before the test
(``CowWorld.single_pte_of_thp``; cow.c discards them with MADV_DONTNEED, which splits the PMD), so the test's memory
is one PTE of a large folio and every fault there is a PTE-level one on the folio's counters.

The verdicts are C6-ptethp's: the PMD is split before the test, so each write fault is decided by do_wp_page's rule
of the era on a page of the folio.
"""

from dataclasses import replace
from pathlib import Path

from modelcheck.spec import load_spec

BASE = load_spec(Path(__file__).with_name("c6_vmsplice_parent_after_fork.py"))

SPEC = replace(
    BASE,
    id=BASE.id + "-single-pte",
    title=BASE.title + " (single PTE of a THP)",
    world=lambda **params: BASE.world(**params).with_thp(2).single_pte_of_thp(),
    mirrors=[("cow.c", "test_vmsplice_after_fork", "single-pte-thp")],
    expect={
        "dirty_cow": "violated", "mapcount": "violated", "gup_cow_break": "holds", "page_count": "holds",
        "page_count_early_cow": "holds", "page_count_fork_copy": "holds", "refcount_5_18": "holds",
        "anon_exclusive": "holds", "anon_exclusive_6_2": "holds", "per_vma_lock_6_4": "holds",
        "odirect_pins_6_5": "holds", "uffd_wp_async_6_7": "holds", "uffd_move_6_8": "holds",
        "large_folio_6_9": "holds", "large_swapin_6_11": "holds", "huge_zero_thp_6_13": "holds",
        "mm_owner_6_15_rc1": "holds",
        "mm_owner_6_15": "holds", "mainline_7_3": "holds",
    },
)
