"""C7-nosd: C7 (an io_uring fixed buffer R/O-mapped and made writable again) on a kernel without soft-dirty.

cow.c runs C7 on every kernel; where CONFIG_MEM_SOFT_DIRTY is off (as on the
machine docs/reproducers.md was measured on), writing 4 to clear_refs is
accepted and changes no PTE, and mprotect(PROT_READ|PROT_WRITE) needs no
soft-dirty write fault (vma_soft_dirty_enabled is false). From 6.0
(64fe24a3e05e) it then maps the pinned page, exclusive since the pin, writable
at once: the store takes no write fault (branch ``mprotect_upgrade``), where
with soft-dirty on the cleared soft-dirty bit forces one, which reuses the
exclusive page (``wp_reuse``). Before 6.0 no kernel upgrades, so the store
faults as in C7 whatever the configuration: page_count copies the pinned page.

It mirrors the same cow.c case as C7, as it runs on a kernel built without
CONFIG_MEM_SOFT_DIRTY.
"""

from modelcheck import Spec
from modelcheck.cow import CowWorld, KernelConfig

SPEC = Spec(
    id="C7-nosd",
    title="R/O-mapping an io_uring fixed buffer, kernel without soft-dirty",
    world=lambda soft_dirty: CowWorld.scripted({
        "parent": ["pin_rw a0 -> buf", "mprotect_ro a0", "clear_refs", "mprotect_rw a0", "store a0",
                   "dma_read buf"],
    }, config=KernelConfig(soft_dirty=soft_dirty)),
    params={"soft_dirty": False},  # CONFIG_MEM_SOFT_DIRTY
    mirrors=[("cow.c", "test_iouring_ro", "base-page")],
    invariants=["pin_coherent", "no_lost_write"],
    expect={
        # the write fault is the mprotect(PROT_READ)'s, as in C7: 09854ba94c6a copies a page the pin holds
        # (cow-history C7, S1 point 2); clear_refs plays no part in it
        "page_count": "violated",
        "anon_exclusive": "holds",      # the fault reuses the exclusive page (S12, S14)
        # 64fe24a3e05e: mprotect maps the exclusive page writable, no fault; the pin keeps seeing the page; and
        # live on 6.18 without CONFIG_MEM_SOFT_DIRTY (docs/reproducers.md)
        "anon_exclusive_6_2": "holds",
    },
)
