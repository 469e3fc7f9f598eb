"""C3b-part-mremap: C3b (c3b_vmsplice_child_ordered.py) on a partially mremap()'ed THP, as cow.c runs
test_vmsplice_in_child "with partially mremap()'ed THP".

The THP's upper half (one of its two pages) is moved first to an address of its own
(``CowWorld.thp_partly_remapped``; cow.c's mremap(MREMAP_FIXED), which splits the PMD), and the test gets the lower
half; the moved page stays mapped in the parent, and in every child fork makes.

Where C3-ptethp is violated (before v5.9) every era holds here: reuse_swap_page reads page_trans_huge_mapcount, the
most any page of the folio is mapped, and the moved page is mapped by the parent and by the child, so the write
fault copies; from v5.9 the references decide, as in C3-ptethp.
"""

from dataclasses import replace
from pathlib import Path

from modelcheck.spec import load_spec

BASE = load_spec(Path(__file__).with_name("c3b_vmsplice_child_ordered.py"))

SPEC = replace(
    BASE,
    id=BASE.id + "-part-mremap",
    title=BASE.title + " (partially mremap()'ed THP)",
    world=lambda **params: BASE.world(**params).with_thp(2).thp_partly_remapped(),
    mirrors=[("cow.c", "test_vmsplice_in_child", "partial-mremap-thp")],
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
