"""C9-part-mremap: C9 (c9_ro_pin_shared.py) on a partially mremap()'ed THP, as cow.c runs test_ro_pin_on_shared "with
partially mremap()'ed THP".

The THP's upper half (one of its two pages) is moved first to an address of its own
(``CowWorld.thp_partly_remapped``; cow.c's mremap(MREMAP_FIXED), which splits the PMD), and the test gets the lower
half; the moved page stays mapped in the parent, and in every child fork makes.

The verdicts are C9-ptethp's: the PMD is split before the test, so each write fault is decided by do_wp_page's rule
of the era on a page of the folio.
"""

from dataclasses import replace
from pathlib import Path

from modelcheck.spec import load_spec

BASE = load_spec(Path(__file__).with_name("c9_ro_pin_shared.py"))

SPEC = replace(
    BASE,
    id=BASE.id + "-part-mremap",
    title=BASE.title + " (partially mremap()'ed THP)",
    world=lambda **params: BASE.world(**params).with_thp(2).thp_partly_remapped(),
    mirrors=[("cow.c", "test_ro_pin_on_shared", "partial-mremap-thp")],
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
