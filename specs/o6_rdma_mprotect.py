"""O6: RDMA memory region and mprotect(PROT_READ) (S1 points 2 and 5).

A R/W long-term pin (an RDMA MR); the process maps the buffer read-only, the
device writes it meanwhile, the process maps it writable again and writes.
A second thread may store at any time: while the mapping is PROT_READ its
store must fault (and be refused), not go through.
"""

from modelcheck import Spec
from modelcheck.cow import CowWorld

SPEC = Spec(
    id="O6",
    title="RDMA + mprotect(PROT_READ)",
    world=lambda: CowWorld.scripted({
        "parent": ["pin_rw a0 -> mr", "mprotect_ro a0", "dma_write mr", "mprotect_rw a0", "store a0",
                   "dma_read mr"],
        "parent.2": ["store a0"],
    }),
    invariants=["pin_coherent", "no_lost_write", "wrprotect_effective"],
    expect={
        "page_count": "violated",                    # S1 point 2
        "anon_exclusive": "holds",                   # direction B, merged in 5.19
        "page_count_refuse_wrprotect": "violated",   # direction A gives up write-protection (S1)
    },
)
