"""O10: a speculative reference makes a write fault copy for nothing (S1 point 3, S7 section 5).

A single process's exclusive page is mapped read-only (here by mprotect);
meanwhile some kernel path holds a transient reference (an RCU page-cache
lookup on a recycled page, a GUP-fast probe, compaction); the write fault sees
the extra reference.
"""

from modelcheck import Spec
from modelcheck.cow import CowWorld

SPEC = Spec(
    id="O10",
    title="speculative reference => spurious COW",
    world=lambda S: CowWorld.scripted({
        "parent": ["mprotect_ro a0", "mprotect_rw a0", "store a0"],
    }, events=["spec"], speculative=S),
    params={"S": 1},  # speculative references outstanding at once
    ladder=[{}, {"S": 2}, {"S": 3}],  # nightly: more of them at once must not change a verdict
    invariants=["no_spurious_copy"],
    expect={
        "mapcount": "holds",        # the mapcount rule never looked at references
        "page_count": "violated",   # S1 point 3
        "anon_exclusive": "holds",  # an exclusive page is reused whatever its refcount (S14)
    },
)
