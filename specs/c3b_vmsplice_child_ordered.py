"""C3b: vmsplice() + unmap in the child, in cow.c's own order (CVE-2020-29374).

cow.c's "vmsplice() + unmap in child" (S29, do_test_cow_in_parent with
child_vmsplice_memcmp_fn): the child vmsplice()s the page into a pipe (a
read-only FOLL_GET reference), unmaps it, writes a byte into the pipe the
parent reads (``signal child_ready``) and blocks on the parent's; the parent,
once woken (``await child_ready``), writes the page and wakes the child
(``signal parent_ready``), which reads its pipe and exits; the parent waits
for it. Unlike C3 (vmsplice.py, the open world W(2,1,0) in which every order
of the actions is tried, the shortest leak first), the scenario is the
selftest's one order, and every interleaving the tokens allow.

Verdicts as cow-history.md C3 (and cow.c's expectation that the child still
reads the old contents): the pre-5.8 rule sees the page mapped once after the
child's munmap and reuses it, so the child reads the parent's write through
its pipe (violated); 17839856fd58 breaks COW at the child's GUP (S16);
09854ba94c6a sees the pipe's reference in the refcount and copies (S17);
PG_anon_exclusive is clear after fork, so the parent's fault takes the
refcount test of 09854ba94c6a (S13); copy-on-read unshares the child's read
GUP (S34).
"""

from modelcheck import Spec
from modelcheck.cow import CowWorld

SPEC = Spec(
    id="C3b",
    title="vmsplice() + unmap in the child, in cow.c's order",
    world=lambda: CowWorld.scripted({
        "parent": ["fork", "await child_ready", "store a0", "signal parent_ready", "wait child1"],
        "child1": ["vmsplice a0", "munmap a0", "signal child_ready", "await parent_ready", "pipe_read", "exit"],
    }),
    mirrors=[("cow.c", "test_vmsplice_in_child", "base-page")],
    invariants=["no_leak_to_child"],
    expect={
        "mapcount": "violated",       # cow-history C3: the CVE
        "gup_cow_break": "holds",     # 17839856fd58 (S16)
        "page_count": "holds",        # 09854ba94c6a (S17)
        "page_count_fork_copy": "holds",
        "refcount_5_18": "holds",
        "anon_exclusive": "holds",
        "anon_exclusive_6_2": "holds",
        "odirect_pins_6_5": "holds",    # as anon_exclusive_6_2: no later piece touches vmsplice or the fault
        "uffd_wp_async_6_7": "holds",   # (d61ea1cb0095 only async uffd-wp PTEs, which C3b has none of)
        "uffd_move_6_8": "holds",  # as uffd_wp_async_6_7 (UFFDIO_MOVE is not used here)
        "mainline_7_3": "holds",
        "andrea_cor": "holds",        # copy-on-read (S34)
    },
)
