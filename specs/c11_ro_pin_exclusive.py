"""C11: R/O long-term GUP pin on a R/O-mapped exclusive page (cow.c).

The page was never shared; mprotect(PROT_READ), clear_refs (so that 6.0's
mprotect upgrade does not apply) and mprotect(PROT_READ|PROT_WRITE) leave it
mapped read-only; the parent pins it R/O and writes.

The pin is taken by GUP, not GUP-fast (C11-fast takes it so).
"""

from modelcheck import Spec
from modelcheck.cow import CowWorld

SPEC = Spec(
    id="C11",
    title="R/O GUP pin on R/O-mapped exclusive page",
    world=lambda: CowWorld.scripted({
        "parent": ["mprotect_ro a0", "clear_refs", "mprotect_rw a0", "pin_ro a0 -> pin", "store a0",
                   "dma_read pin"],
    }),
    mirrors=[("cow.c", "test_ro_pin_on_ro_exclusive", "base-page")],
    invariants=["pin_coherent", "no_lost_write"],
    expect={
        "page_count": "violated",   # the pin's bias makes the write fault copy (S1 point 2)
        "anon_exclusive": "holds",  # the exclusive page is reused (S12)
    },
)
