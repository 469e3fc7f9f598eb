"""The reference world W(P, M, S) of reference-world.md, every action open.

P processes at most (the parent and P-1 children), M addresses, S speculative
references. Under ``mapcount`` a process that holds only a pipe reference to a
page reads another process's later write (from W(2,1,0) on, 5 steps); under
``page_count`` no process ever observes a value it did not write or inherit.

    python -m modelcheck specs/reference.py --param P=2 --param M=2 --param S=0 --no-stop
"""

from modelcheck import Spec
from modelcheck.cow import CowWorld

SPEC = Spec(
    id="reference",
    title="the reference world W(P,M,S): no leak across fork",
    world=lambda P, M, S: CowWorld.reference(P, M, S),
    params={"P": 2, "M": 1, "S": 0},
    # the nightly run climbs by states: 124, 17,352, 32,048, 117,684, then 50 million under page_count
    ladder=[{}, {"M": 2}, {"P": 3, "S": 1}, {"M": 2, "S": 1}, {"P": 3, "M": 2}],
    invariants=["no_leak_across_fork"],
    expect={
        # reference-world.md, "Known verdicts"
        "mapcount": "violated",
        "page_count": "holds",
        # Found by this tool, and explained: the reverse direction (vmsplice in the parent *before* fork,
        # the parent drops its mapping, the child writes and reuses the page, the parent reads its pipe).
        # The GUP reference was taken on a writable, unshared PTE, so neither 5.8's forced COW break
        # (17839856fd58) nor copy-on-read fires, and the fault side reuses on mapcount. The kernel's own
        # selftest checks this case ("vmsplice() before fork(), unmap in parent after fork()" in
        # tools/testing/selftests/mm/cow.c) and 7dad331be781 lists it as a known failure for hugetlb,
        # whose fault path kept the mapcount rule.
        "gup_cow_break": "violated",
        "andrea_cor": "violated",
    },
    notes="With P=1 nothing is ever shared, so every policy holds there.",
)
