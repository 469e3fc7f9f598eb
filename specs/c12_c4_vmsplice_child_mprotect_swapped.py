"""C12-C4: C4 on a swapped-out page (cow.c's test_vmsplice_in_child_mprotect "with swapped-out base page").

The child's vmsplice swaps the page in read-only (its GUP reference is the
pipe's) and unmaps it; the parent, which still holds a swap PTE, does the
mprotect pair and writes: do_swap_page decides. As in C12a (the same case
without the mprotect pair), the swap-in kept reuse_swap_page() (mapcount plus
swap count, blind to the pipe) until 53a05ad9f21d (v5.18, S10, "COW fixes
part 1: fix the COW security issue for THP and swap"): the page_count era and
its followers are violated, refcount_5_18 and PG_anon_exclusive hold.
gup_cow_break's read GUP breaks COW in the child first (17839856fd58): holds.
andrea_cor (its copy-on-read counts the mapcount alone: the parent's share is a
swap entry) and jason_2020 (on page_count, with the swap path as it was)
leak as in C12a.
"""

from modelcheck import Spec
from modelcheck.cow import CowWorld

SPEC = Spec(
    id="C12-C4",
    title="vmsplice() + unmap in the child with mprotect() optimization, page swapped out first",
    world=lambda: CowWorld.scripted({
        "parent": ["pageout a0", "fork", "mprotect_ro a0", "mprotect_rw a0", "store a0"],
        "child1": ["vmsplice a0", "munmap a0", "pipe_read"],
    }),
    mirrors=[("cow.c", "test_vmsplice_in_child_mprotect", "base-page-swapped")],
    invariants=["no_leak_to_child"],
    expect={
        "mapcount": "violated",             # the CVE, as C4
        "gup_cow_break": "holds",           # 17839856fd58: the child's read GUP breaks COW first
        "page_count": "violated",           # do_swap_page kept reuse_swap_page() until v5.18 (S10)
        "page_count_fork_copy": "violated",
        "refcount_5_18": "holds",           # 53a05ad9f21d: the swap-in uses the refcount rule
        "anon_exclusive": "holds",
        "anon_exclusive_6_2": "holds",
        "mainline_7_3": "holds",            # cow.c expects a pass on a current kernel
    },
)
