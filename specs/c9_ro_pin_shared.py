"""C9: R/O long-term GUP pin on a R/O-mapped shared page (cow.c).

After fork the page is shared with the (living) child and mapped read-only;
the parent takes a R/O long-term pin, then writes: the pin must see the write.
Only designs that make the pinned page private first (a forced COW break, an
unsharing fault, copy-on-read) get this right.

The pin is taken by GUP, not GUP-fast (C9-fast mirrors test_ro_fast_pin_on_shared).
The child has no steps: it stays alive, as the selftest's child waits until the
parent is done.
"""

from modelcheck import Spec
from modelcheck.cow import CowWorld

SPEC = Spec(
    id="C9",
    title="R/O GUP pin on R/O-mapped shared page",
    world=lambda: CowWorld.scripted({
        "parent": ["fork", "pin_ro a0 -> pin", "store a0", "dma_read pin"],
    }),
    mirrors=[("cow.c", "test_ro_pin_on_shared", "base-page")],
    invariants=["pin_coherent", "no_lost_write"],
    expect={
        "mapcount": "violated",    # cow-history C9: holds only where unsharing or the forced COW exists
        "gup_cow_break": "holds",
        "page_count": "violated",
        "anon_exclusive": "holds", # FAULT_FLAG_UNSHARE (S13)
        "andrea_cor": "holds",     # copy-on-read (S34)
    },
)
