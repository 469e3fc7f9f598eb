"""O4: an io_uring fixed buffer racing with reclaim (S7, S24, S11).

Reclaim checks page_maybe_dma_pinned() once, when it adds the page to the
swap cache (feb889fb40fa); a pin taken after that check and before the page is
unmapped is not seen. The page is unmapped, read back in read-only, and the
next write fault copies it away from the pin. 5.19 refuses to unmap an
exclusive page that may be pinned.
"""

from modelcheck import Spec
from modelcheck.cow import CowWorld

SPEC = Spec(
    id="O4",
    title="io_uring fixed buffer + swap-out race",
    world=lambda tlb: CowWorld.scripted({
        "parent": ["pin_rw a0 -> buf", "load a0", "store a0", "dma_read buf"],
    }, events=["swap"], tlb=tlb),
    params={"tlb": False},  # True: every thread on its own CPU, with a TLB that can go stale
    ladder=[{}, {"tlb": True}],  # nightly: stale TLBs must not change a verdict
    invariants=["pin_coherent", "no_lost_write"],
    expect={
        "page_count": "violated",
        "page_count_fork_copy": "violated",  # S7: feb889fb40fa's one-shot check races with the pin
        "anon_exclusive": "holds",           # S11: page_try_share_anon_rmap refuses a pinned exclusive page
    },
)
