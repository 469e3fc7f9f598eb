"""O2: O_DIRECT read into memory racing with clear_refs and a CPU store (Andrea Arcangeli's reproducer).

One thread reads a file with O_DIRECT into the page (the device writes it
through the reference, then the reference goes), then loads it; another resets
soft-dirty bits and stores to the same page. When the store's write fault
copies because of the O_DIRECT reference, the device's write lands in the old
page and is lost. Up to v6.4 O_DIRECT takes FOLL_GET|FOLL_WRITE, which the
page_count rule counts but page_maybe_dma_pinned() does not see. From v6.5
(a7e689dd1c06) it pins: clear_refs leaves a pinned page's writable PTE alone
(9348b73c2e1b), so the store needs no fault and the write is not lost.
"""

from modelcheck import Spec
from modelcheck.cow import CowWorld

SPEC = Spec(
    id="O2",
    title="O_DIRECT + clear_refs, no fork",
    world=lambda: CowWorld.scripted({
        "parent": ["dio_read a0 -> dio", "dma_write dio", "put dio", "load a0"],
        "parent.2": ["clear_refs", "store a0"],
    }),
    invariants=["no_lost_write"],
    expect={
        "mapcount": "holds",          # S2/S3: the reproducer passes with mapcount-based reuse
        "page_count": "violated",     # S2/S3: and fails from 09854ba94c6a on
        "odirect_pins_6_5": "holds",  # a7e689dd1c06: the buffer is pinned, 9348b73c2e1b skips its PTE
    },
)
