"""C2: basic COW after fork() with the mprotect() optimization (cow.c).

As C1, but the parent does mprotect(PROT_READ) and mprotect(PROT_READ|PROT_WRITE)
before writing: since 6.0 (64fe24a3e05e) mprotect may map a page writable at
once, which must never happen to a page still shared with the child.

As in C1, the child's read is interleaved with the parent's steps where the
selftest's child waits for the parent's write.
"""

from modelcheck import Spec
from modelcheck.cow import CowWorld

SPEC = Spec(
    id="C2",
    title="basic COW after fork() with mprotect() optimization",
    world=lambda: CowWorld.scripted({
        "parent": ["fork", "mprotect_ro a0", "mprotect_rw a0", "store a0"],
        "child1": ["load a0"],
    }),
    mirrors=[("cow.c", "test_cow_in_parent_mprotect", "base-page")],
    invariants=["no_leak_to_child", "refcount_sane"],
    expect={"mapcount": "holds", "anon_exclusive_6_2": "holds"},  # cow.c's test of the 6.0 optimization
)
