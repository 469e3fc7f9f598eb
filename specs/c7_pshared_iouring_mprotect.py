"""C7-part-shared: C7 (c7_iouring_mprotect.py) on a partially shared THP, as cow.c runs test_iouring_ro "with partially
shared THP".

Before the test the THP's first page is shared with a child that exits at once (``CowWorld.thp_partly_shared``:
MADV_DONTFORK of the rest, which splits the PMD, fork, exit, wait, MADV_DOFORK), so that page is no longer
PG_anon_exclusive while the others are; the test gets the whole THP, so its munmap and mprotect are of the whole
range (``over_the_whole_thp``), and its children are child2 on.

The verdicts are C7-ptethp's: the PMD is split before the test, so each write fault is decided by do_wp_page's rule
of the era on a page of the folio.
"""

from dataclasses import replace
from pathlib import Path

from modelcheck.spec import load_spec

BASE = load_spec(Path(__file__).with_name("c7_iouring_mprotect.py"))

SPEC = replace(
    BASE,
    id=BASE.id + "-part-shared",
    title=BASE.title + " (partially shared THP)",
    world=lambda **params: BASE.world(**params).with_thp(2).over_the_whole_thp().thp_partly_shared(),
    mirrors=[("cow.c", "test_iouring_ro", "partial-shared-thp")],
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
