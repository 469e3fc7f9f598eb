"""C12-C5: C5 on a swapped-out page (cow.c's test_vmsplice_before_fork "with swapped-out base page").

The parent's vmsplice swaps the page in before fork (a read fault: the page is
mapped once, and every era maps it as before), forks, unmaps and reads the
pipe; the child writes. The verdicts are C5's, for C5's reasons: the
reference was taken while the page was private, so neither a COW break in GUP
(gup_cow_break) nor copy-on-read (andrea_cor) has anything to break, and the
mapcount rule reuses the page in the child; the refcount rule (09854ba94c6a)
sees the pipe's reference and copies.
"""

from modelcheck import Spec
from modelcheck.cow import CowWorld

SPEC = Spec(
    id="C12-C5",
    title="vmsplice() before fork(), unmap in the parent after fork(), page swapped out first",
    world=lambda: CowWorld.scripted({
        "parent": ["pageout a0", "vmsplice a0", "fork", "munmap a0", "pipe_read"],
        "child1": ["store a0"],
    }),
    mirrors=[("cow.c", "test_vmsplice_before_fork", "base-page-swapped")],
    invariants=["no_leak_to_parent"],
    expect={
        "mapcount": "violated",
        "gup_cow_break": "violated",
        "andrea_cor": "violated",
        "page_count": "holds",
        "refcount_5_18": "holds",
        "anon_exclusive": "holds",
        "mainline_7_3": "holds",
    },
)
