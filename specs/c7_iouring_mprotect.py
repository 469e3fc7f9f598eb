"""C7: R/O-mapping a page registered as an io_uring fixed buffer (cow.c).

The parent registers the page (FOLL_PIN|FOLL_WRITE|FOLL_LONGTERM), maps it
read-only (mprotect, clear_refs), maps it writable again and writes: the write
fault must reuse the pinned page, or the device and the process diverge.

``soft_dirty`` is the kernel's CONFIG_MEM_SOFT_DIRTY (``--param
soft_dirty=false``, or spec C7-nosd): without it clear_refs write-protects
nothing and, from 6.0, mprotect(PROT_READ|PROT_WRITE) maps the pinned
exclusive page writable at once, so no write fault is taken at all.

The device's read (``dma_read``) stands for the selftest's fixed-buffer write
to a file and its read back.
"""

from modelcheck import Spec
from modelcheck.cow import CowWorld, KernelConfig

SPEC = Spec(
    id="C7",
    title="R/O-mapping a page registered as io_uring fixed buffer",
    world=lambda soft_dirty: CowWorld.scripted({
        "parent": ["pin_rw a0 -> buf", "mprotect_ro a0", "clear_refs", "mprotect_rw a0", "store a0",
                   "dma_read buf"],
    }, config=KernelConfig(soft_dirty=soft_dirty)),
    params={"soft_dirty": True},  # CONFIG_MEM_SOFT_DIRTY
    mirrors=[("cow.c", "test_iouring_ro", "base-page")],
    invariants=["pin_coherent", "no_lost_write"],
    expect={
        "page_count": "violated",  # cow-history C7: broken by 09854ba94c6a (S1 point 2)
        "anon_exclusive": "holds", # fixed by PG_anon_exclusive in 5.19 (S12, S14)
    },
)
