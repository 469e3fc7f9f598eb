"""O10 (page lock): another kernel path holds the page lock while the only mapper write-faults.

Before 5.9 do_wp_page slept in lock_page and then reused the page; 09854ba94c6a
replaced that with trylock-or-copy ("copying is always safe", S9, S17), so a
transient lock holder (reclaim, migration, KSM) makes the fault copy a page
nobody else uses. 5.19 reuses an exclusive page without taking the lock.
"""

from modelcheck import Spec
from modelcheck.cow import CowWorld

SPEC = Spec(
    id="O10-lock",
    title="page lock contention => spurious COW",
    world=lambda: CowWorld.scripted({
        "parent": ["mprotect_ro a0", "mprotect_rw a0", "store a0"],
    }, events=["lock"]),
    invariants=["no_spurious_copy"],
    expect={
        "mapcount": "holds",        # lock_page sleeps, then reuses (predicates-check §1)
        "page_count": "violated",   # trylock_page fails -> copy (S17)
        "anon_exclusive": "holds",  # PageAnonExclusive -> reuse without the lock (predicates-check §5)
    },
)
