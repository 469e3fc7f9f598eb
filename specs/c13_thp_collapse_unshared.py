"""C13: basic COW after fork() when collapsing before fork() (cow.c's test_anon_thp_collapse_unshared).

The THP (two pages, standing for a PMD's 512) is PTE-mapped first, as cow.c does by mprotect() of one page and
back; the parent collapses it (MADV_COLLAPSE: its pages copied into a new THP mapped by a PMD), forks, and writes
the whole range once the child has read it; the child reads it again, which must show what it first saw.

Every era holds: the collapsed THP is shared with the child by fork like any PMD, and a kernel without
MADV_COLLAPSE (before 7d8faaf15545, v6.1) fails the advice, leaving C1-ptethp's case.
"""

from modelcheck import Spec
from modelcheck.cow import CowWorld

SPEC = Spec(
    id="C13",
    title="basic COW after fork() when collapsing before fork()",
    world=lambda: CowWorld.scripted({
        "parent": ["collapse_thp a0", "fork", "await child_ready", "store a0", "store a1", "signal parent_ready",
                   "wait child1"],
        "child1": ["load a0", "load a1", "signal child_ready", "await parent_ready", "load a0", "load a1", "exit"],
    }, thp=2, thp_pte=True),
    mirrors=[("cow.c", "test_anon_thp_collapse_unshared", "thp")],
    invariants=["no_leak_to_child", "refcount_sane", "large_folio_exclusive_when_writable"],
)
