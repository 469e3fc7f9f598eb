"""C12-C6: C6 on a swapped-out page (cow.c's test_vmsplice_after_fork "with swapped-out base page").

After fork both processes hold swap PTEs; the parent's vmsplice swaps the
page in read-only and the parent unmaps it, so the child's write swaps it in
through do_swap_page with the page mapped nowhere and its slot named once:
reuse_swap_page() (mapcount plus swap count) reuses it under the pipe's
reference. In C6 the child's fault is do_wp_page, whose refcount rule
(09854ba94c6a) copies; here the swap-in kept the old test until 53a05ad9f21d
(v5.18, S10), so the page_count era and its followers are violated where C6
holds. gup_cow_break's read GUP breaks COW in the parent first: holds.
"""

from modelcheck import Spec
from modelcheck.cow import CowWorld

SPEC = Spec(
    id="C12-C6",
    title="vmsplice() + unmap in the parent after fork(), page swapped out first",
    world=lambda: CowWorld.scripted({
        "parent": ["pageout a0", "fork", "vmsplice a0", "munmap a0", "pipe_read"],
        "child1": ["store a0"],
    }),
    mirrors=[("cow.c", "test_vmsplice_after_fork", "base-page-swapped")],
    invariants=["no_leak_to_parent"],
    expect={
        "mapcount": "violated",
        "gup_cow_break": "holds",           # 17839856fd58
        "page_count": "violated",           # the swap-in's reuse_swap_page() until v5.18 (S10)
        "page_count_fork_copy": "violated",
        "refcount_5_18": "holds",           # 53a05ad9f21d
        "anon_exclusive": "holds",
        "mainline_7_3": "holds",
    },
)
