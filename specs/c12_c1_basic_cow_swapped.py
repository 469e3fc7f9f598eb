"""C12-C1: C1 on a swapped-out page (cow.c runs test_cow_in_parent "with swapped-out base page").

The page is paged out (MADV_PAGEOUT) before fork, so fork copies a swap PTE
for the child and raises the slot's swap count; the parent's write swaps it in
through do_swap_page, whose reuse test (reuse_swap_page() up to 5.17,
mapcount plus swap count; the refcount from 5.18, 53a05ad9f21d; PG_anon_exclusive
or the swap PTE's exclusive bit from 5.19) finds the child's share in every era
and copies. The child reads the old contents: holds everywhere.
"""

from modelcheck import Spec
from modelcheck.cow import CowWorld

SPEC = Spec(
    id="C12-C1",
    title="basic COW after fork(), page swapped out first",
    world=lambda: CowWorld.scripted({
        "parent": ["pageout a0", "fork", "store a0"],
        "child1": ["load a0"],
    }),
    mirrors=[("cow.c", "test_cow_in_parent", "base-page-swapped")],
    invariants=["no_leak_to_child", "refcount_sane"],
    expect={"mapcount": "holds", "page_count": "holds", "refcount_5_18": "holds", "anon_exclusive": "holds",
            "mainline_7_3": "holds"},  # the swap count, then the refcount, then PAE: each sees the child
)
