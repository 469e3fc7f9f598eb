"""C15: basic COW after fork() when collapsing after fork(), lower half shared (cow.c's
test_anon_thp_collapse_lower_shared).

The PTE-mapped THP (two pages) has MADV_DONTFORK on its upper half, so fork shares only the lower page with the
child; once the child has read it, the parent undoes the advice (MADV_DOFORK, which merges the VMAs again),
collapses the range and writes all of it; the child's second read of its page must show what it first saw.

Every era holds: the collapse copies the shared page as it does the parent's own one.
"""

from modelcheck import Spec
from modelcheck.cow import CowWorld

SPEC = Spec(
    id="C15",
    title="basic COW after fork() when collapsing after fork() (lower shared)",
    world=lambda: CowWorld.scripted({
        "parent": ["dontfork a1", "fork", "await child_ready", "dofork a1", "collapse_thp a0", "store a0",
                   "store a1", "signal parent_ready", "wait child1"],
        "child1": ["load a0", "signal child_ready", "await parent_ready", "load a0", "exit"],
    }, thp=2, thp_pte=True),
    mirrors=[("cow.c", "test_anon_thp_collapse_lower_shared", "thp")],
    # (not large_folio_exclusive_when_writable: fork shares the folio in part, and leaves the parent's other page
    # exclusive and writable, as the kernel does)
    invariants=["no_leak_to_child", "refcount_sane"],
)
