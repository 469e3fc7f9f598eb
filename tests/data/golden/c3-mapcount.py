"""C3 under mapcount: no_leak_to_child violated, the counterexample as a scenario.

Exported from the counterexample that bfs search found in specs/vmsplice.py (C3, vmsplice() + unmap
in the child (CVE-2020-29374); P=2 M=1) under mapcount. The open world's actions became each
process's program (write is store, read is load); the kernel's steps are the scenario's events, and
the schedule pins the trace's interleaving, so the shortest counterexample of this spec is the
trace, step for step:

    1. parent fork
    2. child1 vmsplice a0
    3. child1 store a0
    4. parent store a0
    5. child1 pipe_read

=> child1 observed (0,1) [the parent's write after fork 1] on page 0 through its pipe (a vmsplice
reference); child1 may see only its own writes and the parent's writes from before fork 1

Re-run it with: python -m modelcheck THIS_FILE --policy mapcount
"""

from modelcheck import Spec
from modelcheck.cow import CowWorld

SPEC = Spec(
    id="C3-mapcount",
    title="C3 under mapcount, the counterexample (vmsplice() + unmap in the child (CVE-2020-29374))",
    world=lambda: CowWorld.scripted({
        "parent": ["fork", "store a0"],
        "child1": ["vmsplice a0", "store a0", "pipe_read"],
    }, schedule=["parent", "child1", "child1", "parent", "child1"]),
    invariants=["no_leak_to_child"],
    expect={"mapcount": "violated"},
)
