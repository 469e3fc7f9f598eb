"""C3-ptethp: C3-thp (c3_thp_vmsplice_child.py) on a PTE-mapped THP, as cow.c runs test_vmsplice_in_child "with
PTE-mapped THP".

The THP's PMD is split first (cow.c does it by mprotect of part of it and back), so the parent's write is a
PTE-level fault on a page of the folio: do_wp_page's rule on the folio's counters, where the pipe's reference
and the PTE of the THP's other page make the refcount exceed 1 from v5.9 on: copied, holds; up to v5.8
reuse_swap_page reads page_trans_huge_mapcount (each page mapped once, the child having unmapped the THP) and
reuses: violated, the forced COW break of v5.8 aside (the child's vmsplice takes its own copy).
"""

from dataclasses import replace
from pathlib import Path

from modelcheck.cow import CowWorld
from modelcheck.spec import load_spec

BASE = load_spec(Path(__file__).with_name("c3_thp_vmsplice_child.py"))

SPEC = replace(
    BASE,
    id="C3-ptethp",
    title="vmsplice() + unmap in the child, PTE-mapped THP",
    world=lambda pages: CowWorld.scripted({
        "parent": ["fork", "store a0"],
        "child1": ["vmsplice a0", "munmap_thp a0", "pipe_read"],
    }, thp=pages, thp_pte=True),
    mirrors=[("cow.c", "test_vmsplice_in_child", "pte-mapped-thp")],
    covers=[],
    expect={"dirty_cow": "violated", "mapcount": "violated"} | {policy: "holds" for policy in (
        "gup_cow_break", "page_count", "page_count_early_cow", "page_count_fork_copy", "refcount_5_18",
        "anon_exclusive", "anon_exclusive_6_2", "per_vma_lock_6_4", "odirect_pins_6_5", "uffd_wp_async_6_7",
        "uffd_move_6_8", "large_folio_6_9", "large_swapin_6_11", "huge_zero_thp_6_13", "mm_owner_6_15_rc1",
        "mm_owner_6_15",
        "mainline_7_3")},
)
