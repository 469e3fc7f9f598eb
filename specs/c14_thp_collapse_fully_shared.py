"""C14: basic COW after fork() when collapsing after fork(), fully shared (cow.c's
test_anon_thp_collapse_fully_shared).

The PTE-mapped THP (two pages) is shared with the child by fork; once the child has read it, the parent
collapses it (MADV_COLLAPSE copies the pages the child still maps into a new THP of the parent's: a page mapped
by another process is no obstacle to it) and writes the whole range; the child's second read must show what it
first saw.

Every era holds: the collapse gives the parent copies, exclusive and mapped by a PMD, and leaves the child's
pages alone; without MADV_COLLAPSE (before v6.1) the parent's writes copy as in C1-ptethp.
"""

from modelcheck import Spec
from modelcheck.cow import CowWorld

SPEC = Spec(
    id="C14",
    title="basic COW after fork() when collapsing after fork() (fully shared)",
    world=lambda: CowWorld.scripted({
        "parent": ["fork", "await child_ready", "collapse_thp a0", "store a0", "store a1", "signal parent_ready",
                   "wait child1"],
        "child1": ["load a0", "load a1", "signal child_ready", "await parent_ready", "load a0", "load a1", "exit"],
    }, thp=2, thp_pte=True),
    mirrors=[("cow.c", "test_anon_thp_collapse_fully_shared", "thp")],
    invariants=["no_leak_to_child", "refcount_sane", "large_folio_exclusive_when_writable"],
)
