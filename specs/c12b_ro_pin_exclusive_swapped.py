"""C12b (C11 variant): R/O long-term pin on a R/O-mapped exclusive page that was swapped out first.

Swap-in maps the page read-only; from 5.19 the swap PTE's exclusive bit says
it is still exclusive, so the R/O pin needs no unsharing and the write reuses it.
"""

from modelcheck import Spec
from modelcheck.cow import CowWorld

SPEC = Spec(
    id="C12b-C11",
    title="R/O GUP pin on R/O-mapped exclusive page, swapped out first",
    world=lambda: CowWorld.scripted({
        "parent": ["pageout a0", "mprotect_ro a0", "clear_refs", "mprotect_rw a0", "pin_ro a0 -> pin", "store a0",
                   "dma_read pin"],
    }),
    mirrors=[("cow.c", "test_ro_pin_on_ro_exclusive", "base-page-swapped")],
    invariants=["pin_coherent", "no_lost_write"],
    expect={
        "page_count": "violated",
        "anon_exclusive": "holds",  # S12, S14: exclusivity survives swap in the swap PTE
    },
)
