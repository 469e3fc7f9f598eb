"""C16: basic COW after fork() when collapsing after fork(), upper half shared (cow.c's
test_anon_thp_collapse_upper_shared).

As C15 with the halves swapped: MADV_DONTFORK on the lower page, so the child maps only the upper one; the
parent undoes the advice, collapses the range and writes all of it, and the child's second read of its page
must show what it first saw.

Every era holds.
"""

from modelcheck import Spec
from modelcheck.cow import CowWorld

SPEC = Spec(
    id="C16",
    title="basic COW after fork() when collapsing after fork() (upper shared)",
    world=lambda: CowWorld.scripted({
        "parent": ["dontfork a0", "fork", "await child_ready", "dofork a0", "collapse_thp a0", "store a0",
                   "store a1", "signal parent_ready", "wait child1"],
        "child1": ["load a1", "signal child_ready", "await parent_ready", "load a1", "exit"],
    }, thp=2, thp_pte=True),
    mirrors=[("cow.c", "test_anon_thp_collapse_upper_shared", "thp")],
    # (not large_folio_exclusive_when_writable: fork shares the folio in part, and leaves the parent's other page
    # exclusive and writable, as the kernel does)
    invariants=["no_leak_to_child", "refcount_sane"],
)
