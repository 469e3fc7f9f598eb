"""C12a: CVE-2020-29374 on a swapped-out page (cow.c runs C3 "with swapped-out base page").

The parent's page is paged out (MADV_PAGEOUT) before fork, so after fork both
processes hold swap PTEs; the child's vmsplice swaps it in read-only and
unmaps; the parent's write faults it in through do_swap_page, whose rule
stayed reuse_swap_page() (mapcount plus swap count) until 5.18, whatever the
pipe's reference: the security fix of 09854ba94c6a did not cover swap.

The selftest's order (the child's vmsplice and munmap before the parent's
write, the pipe read after it) is one of the interleavings tried.
"""

from modelcheck import Spec
from modelcheck.cow import CowWorld

SPEC = Spec(
    id="C12a",
    title="vmsplice() + unmap in the child, page swapped out",
    world=lambda: CowWorld.scripted({
        "parent": ["pageout a0", "fork", "store a0"],
        "child1": ["vmsplice a0", "munmap a0", "pipe_read"],
    }),
    mirrors=[("cow.c", "test_vmsplice_in_child", "base-page-swapped")],
    invariants=["no_leak_to_child"],
    expect={
        "mapcount": "violated",
        # S10, "COW fixes part 1: fix the COW security issue for THP and swap": still open before 5.18
        "page_count": "violated",
        "page_count_early_cow": "violated",
        "page_count_fork_copy": "violated",
        "refcount_5_18": "holds",      # do_swap_page uses the refcount rule (S10)
        "anon_exclusive": "holds",
    },
)
