"""C12-C2: C2 on a swapped-out page (cow.c's test_cow_in_parent_mprotect "with swapped-out base page").

As C12-C1, with mprotect(PROT_READ) and mprotect(PROT_READ|PROT_WRITE) in the
parent after fork: the protection changes act on a swap PTE (or, once the
parent has swapped the page in, on a page that is not exclusive), so the 6.0
upgrade on mprotect (anon_exclusive_6_2) never maps it writable: holds.
"""

from modelcheck import Spec
from modelcheck.cow import CowWorld

SPEC = Spec(
    id="C12-C2",
    title="basic COW after fork() with mprotect() optimization, page swapped out first",
    world=lambda: CowWorld.scripted({
        "parent": ["pageout a0", "fork", "mprotect_ro a0", "mprotect_rw a0", "store a0"],
        "child1": ["load a0"],
    }),
    mirrors=[("cow.c", "test_cow_in_parent_mprotect", "base-page-swapped")],
    invariants=["no_leak_to_child", "refcount_sane"],
    expect={"mapcount": "holds", "refcount_5_18": "holds", "anon_exclusive_6_2": "holds", "mainline_7_3": "holds"},
)
