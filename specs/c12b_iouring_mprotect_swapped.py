"""C12b: C7 (a page registered as an io_uring fixed buffer, then R/O-mapped) on a swapped-out page.

cow.c pages the buffer out before registering it, so the pin goes through the
swap-in path first.
"""

from modelcheck import Spec
from modelcheck.cow import CowWorld

SPEC = Spec(
    id="C12b",
    title="R/O-mapping an io_uring fixed buffer, page swapped out first",
    world=lambda: CowWorld.scripted({
        "parent": ["pageout a0", "pin_rw a0 -> buf", "mprotect_ro a0", "clear_refs", "mprotect_rw a0",
                   "store a0", "dma_read buf"],
    }),
    mirrors=[("cow.c", "test_iouring_ro", "base-page-swapped")],
    invariants=["pin_coherent", "no_lost_write"],
    expect={
        "page_count": "violated",   # as C7
        "anon_exclusive": "holds",  # the swap PTE's exclusive bit restores exclusivity (S12)
    },
)
