"""O2-fork: O_DIRECT read into memory racing with fork (S15, "COW fixes part 3: reliable GUP R/W FOLL_GET").

The parent starts an O_DIRECT read into its page, forks while the I/O is in
flight, and writes another part of the page; the device then completes the
read. Up to v6.4 O_DIRECT takes FOLL_GET|FOLL_WRITE, invisible to
page_maybe_dma_pinned(), so fork shares the page and the parent's write fault
copies it away: the device's data lands in the page the child now owns. The
child sees the parent's post-fork data and the parent loses it. David
Hildenbrand's part 3 series to make R/W FOLL_GET reliable was not merged; the
gap closed when block and iomap O_DIRECT moved to FOLL_PIN in v6.5
(a7e689dd1c06): fork sees a pinned exclusive page and copies it for the child,
and the parent keeps its page (cow-after-2022 P16).
"""

from modelcheck import Spec
from modelcheck.cow import CowWorld

SPEC = Spec(
    id="O2-fork",
    title="O_DIRECT read into memory + fork",
    world=lambda: CowWorld.scripted({
        "parent": ["dio_read a0 -> dio", "fork", "store a0.1", "dma_write dio", "put dio", "load a0"],
        "child1": ["load a0"],
    }),
    invariants=["no_lost_write", "no_leak_to_child"],
    expect={
        "page_count_fork_copy": "violated",  # 70e806e4e645 copies only maybe-pinned pages (S20)
        "anon_exclusive": "violated",        # S15: R/W FOLL_GET stays unreliable in 5.19
        "odirect_pins_6_5": "holds",         # P16: a7e689dd1c06 pins; fork copies for the child
    },
)
