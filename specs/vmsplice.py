"""CVE-2020-29374 (Jann Horn): vmsplice() and munmap() in the child.

The parent fills a page and forks; the child vmsplice()s the page into a pipe
(a read-only GUP reference), unmaps it, and later reads the pipe. When the
parent writes after the fork, its write fault must copy the page; the pre-5.8
rule looks only at the mapcount (1, once the child unmapped), reuses the page,
and the child reads the parent's secret through the pipe. The v5.9 rule sees
the pipe's reference in the page's refcount and copies.

The world is W(2,1,0) reduced to the actions of the scenario (fork, write,
read, munmap, vmsplice, pipe_read); the explorer tries every order of them.
Two shortest (5-step) leaks exist: the child drops its mapping by munmap() as
in the CVE, or by writing to it (its write fault copies); either way the
parent's PTE is the page's only mapping, so mapcount reuses it. Breadth-first
search shows the first of them in its order of actions.
Expected verdicts: cow-history.md C3; the kernel selftest
tools/testing/selftests/mm/cow.c ("vmsplice() + unmap in child").

It mirrors cow.c's "vmsplice() + unmap in child" on a base page as an open
world: the selftest's one order of the actions (C3b) is among those tried, and
so are orders the selftest never takes (the child writing instead of unmapping).
"""

from modelcheck import Spec
from modelcheck.cow import CowWorld

SPEC = Spec(
    id="C3",
    title="vmsplice() + unmap in the child (CVE-2020-29374)",
    world=lambda P, M: CowWorld(processes=P, addresses=M,
                                actions={"fork", "write", "read", "munmap", "vmsplice", "pipe_read"}),
    params={"P": 2, "M": 1},
    ladder=[{}, {"P": 3}, {"M": 2}, {"P": 3, "M": 2}],  # nightly: page_count 124, 5,860, 17,352, 11 million+
    mirrors=[("cow.c", "test_vmsplice_in_child", "base-page")],
    invariants=["no_leak_to_child"],
    expect={
        # cow-history C3: violated under the pre-5.8 rule, fixed from 5.8 on in every merged line
        "mapcount": "violated",
        "gup_cow_break": "holds",         # 17839856fd58: the child's GUP breaks COW first
        "page_count": "holds",            # 09854ba94c6a: the parent's fault sees the pipe's reference
        "page_count_fork_copy": "holds",
        "refcount_5_18": "holds",
        "anon_exclusive": "holds",
        "anon_exclusive_6_2": "holds",
        "andrea_cor": "holds",            # copy-on-read unshares the child's read GUP (S34)
    },
)
