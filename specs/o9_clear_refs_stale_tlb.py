"""O9: clear_refs without a TLB flush leaves a writable translation behind (Will Deacon, S22).

One thread keeps storing to a page; another resets soft-dirty bits with
clear_refs. Since 0758cd830494 the flush could be elided, so after clear_refs
returned the first thread's CPU still stores through its cached writable entry
without a fault, and soft-dirty tracking misses the write. 912efa17e512 (v5.12)
flushes the TLB before clear_refs returns.
"""

from modelcheck import Spec
from modelcheck.cow import CowWorld

SPEC = Spec(
    id="O9",
    title="clear_refs + stale TLB",
    world=lambda: CowWorld.scripted({
        "parent": ["store a0", "store a0"],
        "parent.2": ["clear_refs"],
    }, tlb=True),
    invariants=["wrprotect_effective"],
    expect={
        "page_count": "violated",          # S22: the missing flush, up to v5.11
        "page_count_early_cow": "violated",  # v5.10: 912efa17e512 came in v5.12
        "page_count_fork_copy": "holds",   # 912efa17e512
        "anon_exclusive": "holds",
    },
)
