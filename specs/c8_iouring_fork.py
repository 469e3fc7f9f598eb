"""C8: fork() with an io_uring fixed buffer: the RDMA/fork problem (cow.c).

The parent pins its buffer R/W long-term, forks (the child stays alive),
writes the buffer and lets the device read it: the parent's write must land in
the pinned page.

The child has no steps: it stays alive, as the selftest's child waits until
the parent is done.
"""

from modelcheck import Spec
from modelcheck.cow import CowWorld

SPEC = Spec(
    id="C8",
    title="fork() with an io_uring fixed buffer",
    world=lambda: CowWorld.scripted({
        "parent": ["pin_rw a0 -> buf", "fork", "store a0", "dma_read buf"],
    }),
    mirrors=[("cow.c", "test_iouring_fork", "base-page")],
    invariants=["pin_coherent", "no_lost_write"],
    expect={
        "mapcount": "violated",            # cow-history C8: fork shares the pinned page in every era before 5.9
        "page_count": "violated",
        "page_count_early_cow": "holds",   # 70e806e4e645: early COW of maybe-pinned pages at fork
        "page_count_fork_copy": "holds",
        "anon_exclusive": "holds",
    },
)
