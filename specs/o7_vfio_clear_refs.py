"""O7: VFIO-pinned guest memory and clear_refs soft-dirty tracking (S1 point 5, S6).

QEMU's guest RAM is pinned R/W long-term by VFIO; a soft-dirty reset
write-protects it; the guest writes and the device reads.
"""

from modelcheck import Spec
from modelcheck.cow import CowWorld

SPEC = Spec(
    id="O7",
    title="VFIO + clear_refs(4)",
    world=lambda: CowWorld.scripted({
        "parent": ["pin_rw a0 -> vfio", "clear_refs", "store a0", "dma_read vfio"],
    }),
    invariants=["pin_coherent", "no_lost_write", "wrprotect_effective"],
    expect={
        "page_count": "violated",            # S1, S6: broken from 09854ba94c6a
        "page_count_early_cow": "violated",  # v5.10: 9348b73c2e1b came in v5.11
        "page_count_fork_copy": "holds",     # 9348b73c2e1b: clear_refs leaves pinned pages alone (S24)
        "anon_exclusive": "holds",
    },
)
