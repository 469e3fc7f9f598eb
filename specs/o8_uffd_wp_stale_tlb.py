"""O8: uffd-wp unprotect, a deferred TLB flush and a copy fault lose a write (Nadav Amit, S23).

CPU0 (the uffd monitor) write-unprotects a page; in that era this also clears
the write bit, and the flush is deferred (mmap_lock held only for read). CPU1
stores to one part of the page and write-faults; a transient reference makes
the fault copy. CPU2 still caches a writable translation and stores to another
part of the page after the copy was taken but before the new PTE is installed:
its store goes to the old page and is lost. Since 6ce64428d620 the fault
flushes a pending flush first in a uffd-wp VMA.
"""

from modelcheck import Spec
from modelcheck.cow import CowWorld

SPEC = Spec(
    id="O8",
    title="uffd-wp + stale TLB: lost write",
    world=lambda S: CowWorld.scripted({
        "parent": ["uffd_unwp a0"],
        "parent.2": ["store a0.1"],
        "parent.3": ["store a0", "store a0", "load a0"],
    }, events=["spec"], tlb=True, speculative=S),
    params={"S": 1},  # speculative references outstanding at once
    ladder=[{}, {"S": 2}],
    invariants=["no_lost_write"],
    expect={
        "page_count": "violated",          # S23: likely after 09854ba94c6a (any extra reference copies)
        "page_count_early_cow": "violated",  # v5.10: 6ce64428d620 came in v5.12
        "page_count_fork_copy": "holds",   # 6ce64428d620 flushes before the fault decides
        "anon_exclusive": "holds",
    },
)
