"""S7-sync: S7's tracker with a synchronous userfaultfd: the store waits for the monitor.

The write to the uffd-wp PTE raises a userfault; the monitor thread resolves it with UFFDIO_WRITEPROTECT
off, which (6ce64428d620's analysis) leaves the PTE read-only, so the store then write-faults. From 5.19 the
pinned page is PageAnonExclusive and is reused; from 5.9 to 5.18 the fault copies any page with references
beyond its mapping (09854ba94c6a), so the process leaves the pinned page and the device writes one the
process no longer maps: C7's break, reached through uffd-wp instead of mprotect.
"""

from modelcheck import Spec
from modelcheck.cow import CowWorld

SPEC = Spec(
    id="S7-sync",
    title="sync uffd-wp dirty tracking on a pinned exclusive page: the monitor unprotects",
    world=lambda: CowWorld.scripted({
        "parent": ["pin_rw a0 -> dev", "uffd_wp a0", "signal wp", "store a0", "dma_write dev", "put dev",
                   "load a0"],
        "parent.2": ["await wp", "uffd_unwp a0"],
    }),
    invariants=["pin_coherent", "no_lost_write", "wrprotect_effective"],
    expect={
        "page_count": "violated",  # as C7: 09854ba94c6a copies a page the pin references (S1 point 2)
        "anon_exclusive": "holds",  # as C7: PG_anon_exclusive keeps the pinned page reused (S12, S14)
    },
)
