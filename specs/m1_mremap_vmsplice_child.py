"""M1: C3b with an mremap in the child: mremap moves the mapping, not the page.

As C3b (cow.c's vmsplice test): the parent forks; the child vmsplices a0 into a pipe, then moves its mapping
to a1 with mremap(MREMAP_MAYMOVE|MREMAP_FIXED) and unmaps it there; the parent writes a0; the child reads the
pipe. move_ptes (mm/mremap.c, 7.1.5) moves the PTE as it is: no copy, no new reference, the page stays shared
(mapcount 2 until the child's munmap), so each era answers as in C3b: the mapcount rule reuses the page once
the child's mapping is gone and the child reads the parent's write (violated before 5.8); every later rule
copies it (holds). Also no page is leaked or lost (refcount_sane).
"""

from modelcheck import Spec
from modelcheck.cow import CowWorld

SPEC = Spec(
    id="M1-mremap",
    title="vmsplice() + mremap + unmap in the child",
    world=lambda: CowWorld.scripted({
        "parent": ["fork", "await unmapped", "store a0", "signal written"],
        "child1": ["vmsplice a0", "mremap a0 a1", "munmap a1", "signal unmapped", "await written", "pipe_read"],
    }),
    invariants=["no_leak_to_child", "refcount_sane"],
    expect={policy: "holds" for policy in (
        "gup_cow_break", "page_count", "page_count_early_cow", "page_count_fork_copy", "refcount_5_18",
        "anon_exclusive", "anon_exclusive_6_2", "per_vma_lock_6_4", "odirect_pins_6_5", "uffd_wp_async_6_7",
        "uffd_move_6_8", "large_folio_6_9", "large_swapin_6_11", "huge_zero_thp_6_13", "mm_owner_6_15_rc1",
        "mm_owner_6_15", "mainline_7_3",
        "andrea_cor", "jason_2020",
        "page_count_refuse_wrprotect")} | {
        "dirty_cow": "violated", "mapcount": "violated",  # CVE-2020-29374, as C3b: mremap changes no count
    },
)
