"""C3-thp: CVE-2020-29374 on a PMD-mapped THP (cow.c runs C3 "with PMD-mapped THP").

The parent's memory is one THP (two pages here, standing for a PMD's 512), mapped by one PMD. After fork
the child vmsplice()s its first page (GUP takes the reference on the THP's head) and unmaps the whole THP
(zap_huge_pmd); the parent then writes. do_huge_pmd_wp_page kept reuse_swap_page, the mapcount test, when
09854ba94c6a (v5.9) made do_wp_page count references: the PMD is mapped once, so the parent reuses the THP
and the child's pipe reads the parent's write. 3bff7e3f1f16 (v5.18, "COW fixes part 1: fix the COW security
issue for THP and swap", S10) made the PMD path ask the refcount too: it splits the PMD and the page is
copied.

* ``mapcount`` (to v5.7): the mapcount test reuses: violated;
* ``gup_cow_break`` (v5.8): the child's GUP breaks COW first (FOLL_WRITE on its read-only PMD: the fault
  splits it, 3917c80280c9, and copies the one page), so the pipe holds the child's own copy: holds;
* ``page_count`` to ``page_count_fork_copy`` (v5.9 to v5.17): violated, as cow-history.md and S10 say;
* ``refcount_5_18`` on: the pipe's reference makes the fault split and copy: holds.

The selftest's order (the child's vmsplice and munmap before the parent's write, the pipe read after it) is
one of the interleavings tried.
"""

from modelcheck import Spec
from modelcheck.cow import CowWorld

SPEC = Spec(
    id="C3-thp",
    title="vmsplice() + unmap in the child, PMD-mapped THP",
    world=lambda pages: CowWorld.scripted({
        "parent": ["fork", "store a0"],
        "child1": ["vmsplice a0", "munmap_thp a0", "pipe_read"],
    }, thp=pages),
    params={"pages": 2},
    ladder=[{}, {"pages": 4}],
    mirrors=[("cow.c", "test_vmsplice_in_child", "thp")],
    invariants=["no_leak_to_child", "refcount_sane"],
    covers=["thp_reuse", "fork_thp_share"],
    expect={
        "dirty_cow": "violated", "mapcount": "violated",
        "gup_cow_break": "holds",
        "page_count": "violated", "page_count_early_cow": "violated", "page_count_fork_copy": "violated",
        "refcount_5_18": "holds", "anon_exclusive": "holds", "anon_exclusive_6_2": "holds",
        "per_vma_lock_6_4": "holds", "odirect_pins_6_5": "holds", "uffd_wp_async_6_7": "holds",
        "uffd_move_6_8": "holds", "large_folio_6_9": "holds", "large_swapin_6_11": "holds",
        "huge_zero_thp_6_13": "holds",
        "mm_owner_6_15_rc1": "holds", "mm_owner_6_15": "holds", "mainline_7_3": "holds",
    },
)
