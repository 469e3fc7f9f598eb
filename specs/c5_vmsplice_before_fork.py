"""C5: vmsplice() before fork(), unmap in the parent after fork(); the child writes (cow.c).

The parent's pipe holds a reference taken while the page was still private
and writable; after fork and the parent's munmap the child's write fault sees
a page mapped once. Rules that look at the mapcount reuse it and the parent
reads the child's write through its pipe; rules that look at the refcount see
the pipe's reference and copy.

The selftest's child writes only after the parent's munmap, and the parent
reads its pipe after the child exited; here the child's write and the parent's
steps interleave in every order, the selftest's among them.
"""

from modelcheck import Spec
from modelcheck.cow import CowWorld

SPEC = Spec(
    id="C5",
    title="vmsplice() before fork(), unmap in the parent after fork()",
    world=lambda: CowWorld.scripted({
        "parent": ["vmsplice a0", "fork", "munmap a0", "pipe_read"],
        "child1": ["store a0"],
    }),
    mirrors=[("cow.c", "test_vmsplice_before_fork", "base-page")],
    invariants=["no_leak_to_parent"],
    expect={
        # cow.c: "If we miss to break COW, the parent observes modifications by the child";
        # 7dad331be781 lists it as a known failure for hugetlb, which kept the mapcount rule
        "mapcount": "violated",
        # the reference was taken on a writable unshared PTE: 17839856fd58 has nothing to break and
        # copy-on-read has nothing to unshare; the fault side reuses on mapcount (see reference.py)
        "gup_cow_break": "violated",
        "andrea_cor": "violated",
        "page_count": "holds",
    },
)
