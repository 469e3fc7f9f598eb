"""C6: vmsplice() + unmap in the parent after fork(); the child writes (cow.c).

The parent takes its pipe reference on the page it now shares with the child.

As in C5, the child's write is interleaved with the parent's steps where the
selftest's child waits for the parent's munmap.
"""

from modelcheck import Spec
from modelcheck.cow import CowWorld

SPEC = Spec(
    id="C6",
    title="vmsplice() + unmap in the parent after fork()",
    world=lambda: CowWorld.scripted({
        "parent": ["fork", "vmsplice a0", "munmap a0", "pipe_read"],
        "child1": ["store a0"],
    }),
    mirrors=[("cow.c", "test_vmsplice_after_fork", "base-page")],
    invariants=["no_leak_to_parent"],
    expect={
        "mapcount": "violated",   # cow.c's "If we miss to break COW, the parent observes ..."
        "gup_cow_break": "holds", # the parent's GUP breaks COW first (17839856fd58)
        "page_count": "holds",    # the child's fault sees the pipe's reference and copies
    },
)
