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
    invariants=["no_leak_across_fork"],
    expect={"mapcount": "violated", "page_count": "holds"},
    notes="reference-world.md, 'Known verdicts'. With P=1 nothing is ever shared, so mapcount holds there too.",
)
