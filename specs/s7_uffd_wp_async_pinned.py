"""S7: dirty tracking with async uffd-wp on a pinned exclusive page (cow-after-2022 P18, S7).

A CRIU- or Wine-style dirty tracker write-protects the process's memory through a userfaultfd opened with
UFFD_FEATURE_WP_ASYNC (as PAGEMAP_SCAN's write-protect does), while a device holds a long-term R/W pin on
the page (io_uring fixed buffer, RDMA). The process then writes it: from 6.7 (d61ea1cb0095) the write fault
drops the uffd-wp bit in the kernel, delivers no event, and decides as on any write-protected PTE: the
pinned page is exclusive (PAE), so it is reused and the device and the process keep one page. S7-sync is the
same tracker with a synchronous userfaultfd, where the store waits for the monitor's UFFDIO_WRITEPROTECT off.

A kernel before 6.7 refuses the feature in UFFDIO_API (EINVAL), so the range is never registered and the
write-protect changes nothing (``uffd_refused``): the store writes through the writable PTE, and the spec
holds there without any fault (no expectation is stated: history says nothing of a tracker that failed).
"""

from modelcheck import Spec
from modelcheck.cow import CowWorld

SPEC = Spec(
    id="S7",
    title="async uffd-wp dirty tracking on a pinned exclusive page",
    world=lambda: CowWorld.scripted({
        "parent": ["pin_rw a0 -> dev", "uffd_wp_async a0", "store a0", "dma_write dev", "put dev", "load a0"],
    }),
    invariants=["pin_coherent", "no_lost_write", "wrprotect_effective"],
    expect={
        # read in the 7.1.5 tree: do_wp_page clears an async uffd-wp bit and goes on; the page is
        # PageAnonExclusive, so wp_page_reuse keeps it (cow-after-2022 P18, S7)
        "uffd_wp_async_6_7": "holds",
        "uffd_move_6_8": "holds",  # as uffd_wp_async_6_7 (UFFDIO_MOVE is not used here)
    },
)
