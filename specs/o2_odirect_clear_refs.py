"""O2: O_DIRECT read into memory racing with clear_refs and a CPU store (Andrea Arcangeli's reproducer).

One thread reads a file with O_DIRECT into the page (FOLL_GET|FOLL_WRITE, the
device's write, the put), then loads it; another resets soft-dirty bits and
stores to the same page. When the store's write fault copies because of the
O_DIRECT reference, the device's write lands in the old page and is lost.
"""

from modelcheck import Spec
from modelcheck.cow import CowWorld

SPEC = Spec(
    id="O2",
    title="O_DIRECT + clear_refs, no fork",
    world=lambda: CowWorld.scripted({
        "parent": ["get_rw a0 -> dio", "dma_write dio", "put dio", "load a0"],
        "parent.2": ["clear_refs", "store a0"],
    }),
    invariants=["no_lost_write"],
    expect={
        "mapcount": "holds",       # S2/S3: the reproducer passes with mapcount-based reuse
        "page_count": "violated",  # S2/S3: and fails from 09854ba94c6a on
    },
)
