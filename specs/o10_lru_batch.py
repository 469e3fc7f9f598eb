"""O10 (LRU batch): a fresh page still in a per-CPU LRU batch makes the next write fault copy.

After fork the parent's write copies into a fresh page, which sits in the LRU
batch (an extra reference) until drained; the page is then write-protected
(mprotect) and written again. 5.18 drains the local batch before deciding
(d4c470970d45).
"""

from modelcheck import Spec
from modelcheck.cow import CowWorld

SPEC = Spec(
    id="O10-lru",
    title="LRU-batch reference => spurious COW",
    world=lambda: CowWorld.scripted({
        "parent": ["fork", "store a0", "mprotect_ro a0", "mprotect_rw a0", "store a0"],
    }, events=["lru"]),
    invariants=["no_spurious_copy"],
    expect={
        "page_count": "violated",    # S10: "unnecessary COW" from LRU pagevec references
        "refcount_5_18": "holds",    # d4c470970d45 drains the local batch first
    },
)
