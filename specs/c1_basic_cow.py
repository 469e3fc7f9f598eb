"""C1: basic COW after fork() (tools/testing/selftests/mm/cow.c, "Basic COW after fork()").

The parent writes after forking; the child reads: it must see the contents
from before the fork. Every era gets this right for a base page.

The selftest's child saves the contents, then waits for the parent's
write before it compares; here its read may come before or after the write
(every interleaving, the selftest's among them).
"""

from modelcheck import Spec
from modelcheck.cow import CowWorld

SPEC = Spec(
    id="C1",
    title="basic COW after fork()",
    world=lambda: CowWorld.scripted({
        "parent": ["fork", "store a0"],
        "child1": ["load a0"],
    }),
    mirrors=[("cow.c", "test_cow_in_parent", "base-page")],
    invariants=["no_leak_to_child", "refcount_sane"],
    expect={"mapcount": "holds", "page_count": "holds", "anon_exclusive": "holds"},  # cow.c passes on base pages
)
