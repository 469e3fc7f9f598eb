"""K2 (KSM merge, then fork and writes): a KSM page written by one process never leaks to another.

The parent marks a0 and a1, of the same contents, mergeable; ksmd may merge
them into one KSM page at any point (kernel ksm_merge), before or after the
fork (VM_MERGEABLE is inherited, so the child's mappings merge too). The
parent then writes a0 and loads it back, the child loads a1, which maps the
same KSM page as the parent's a0 did. A write fault on a KSM page always
copies it (09854ba94c6a on; the mapcount rule's reuse_ksm_page only at
refcount 1, which a page mapped twice never has), so no write reaches the
other address or the other process: no_leak_across_fork and no_lost_write
hold in every era (mm/memory.c, wp_can_reuse_anon_folio: a KSM folio is never
reused; mm/ksm.c replace_page maps the KSM page read-only).
"""

from modelcheck import Spec
from modelcheck.cow import CowWorld

SPEC = Spec(
    id="K2-ksm-no-leak",
    title="KSM-merged page written by one process: no leak, no lost write",
    world=lambda: CowWorld.scripted({
        "parent": ["madvise_mergeable a0", "madvise_mergeable a1", "fork", "store a0", "load a0"],
        "child1": ["load a1"],
    }, events=["ksm"]),
    invariants=["no_leak_across_fork", "no_lost_write"],
    covers=["ksm_merge"],
    expect={name: "holds" for name in (
        "dirty_cow", "mapcount", "gup_cow_break", "page_count", "page_count_fork_copy", "refcount_5_18",
        "anon_exclusive", "anon_exclusive_6_2", "per_vma_lock_6_4", "odirect_pins_6_5", "uffd_wp_async_6_7",
        "uffd_move_6_8", "large_folio_6_9", "large_swapin_6_11", "huge_zero_thp_6_13", "mm_owner_6_15_rc1",
        "mm_owner_6_15", "mainline_7_3",
        "andrea_cor", "jason_2020",
        "page_count_refuse_wrprotect")},
)
