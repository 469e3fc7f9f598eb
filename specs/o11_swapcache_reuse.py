"""O11: a page read back from swap sits in the swap cache; its write fault should reuse it.

After MADV_PAGEOUT and a read fault, the page is mapped read-only and the swap
cache still holds a reference; the write fault then sees a refcount of 2.
"""

from modelcheck import Spec
from modelcheck.cow import CowWorld

SPEC = Spec(
    id="O11",
    title="swap-cache reference => spurious COW",
    world=lambda: CowWorld.scripted({
        "parent": ["pageout a0", "load a0", "store a0"],
    }),
    invariants=["no_spurious_copy"],
    expect={
        "mapcount": "holds",        # reuse_swap_page: mapcount plus swap count is 1
        "page_count": "violated",   # any extra reference copies
        "refcount_5_18": "holds",   # 53a05ad9f21d: free the swap slot, then reuse
    },
)
