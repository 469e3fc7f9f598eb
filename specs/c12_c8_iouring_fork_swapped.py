"""C12-C8: C8 on a swapped-out page (cow.c's test_iouring_fork "with swapped-out base page").

The R/W long-term pin swaps the page in with a write fault (so it is mapped
once, writable and exclusive), then the parent forks, writes and lets the
device read the buffer: C8's case once the page is back, with C8's verdicts.
Fork shares the pinned page before 70e806e4e645 (page_count_fork_copy, v5.9
with the early COW of maybe-pinned pages) and the parent's write then copies
away from the pin.
"""

from modelcheck import Spec
from modelcheck.cow import CowWorld

SPEC = Spec(
    id="C12-C8",
    title="fork() with an io_uring fixed buffer, page swapped out first",
    world=lambda: CowWorld.scripted({
        "parent": ["pageout a0", "pin_rw a0 -> buf", "fork", "store a0", "dma_read buf"],
    }),
    mirrors=[("cow.c", "test_iouring_fork", "base-page-swapped")],
    invariants=["pin_coherent", "no_lost_write"],
    expect={
        "mapcount": "violated",
        "page_count": "violated",
        "page_count_early_cow": "holds",    # 70e806e4e645
        "page_count_fork_copy": "holds",
        "anon_exclusive": "holds",
        "mainline_7_3": "holds",
    },
)
