"""S8-shared: UFFDIO_MOVE of a page the parent shares with its child after fork (cow-after-2022 P21, S8).

The parent forks, so its page at a0 is COW-shared with the child (fork cleared PG_anon_exclusive); it then asks
UFFDIO_MOVE to move a0's page to a1, an address of its own that is registered with its userfaultfd and still
empty, and writes a1. The child reads a0: it must see what it had before fork, never the parent's write.

* Before v6.8 there is no UFFDIO_MOVE (EINVAL): nothing moves, the parent's store faults a fresh page in at
  a1, and the child's page is untouched: holds.
* uffd_move_6_8 and mainline_7_3 (adef440691ba; 7.1.5 move_pages_pte): the page is not PageAnonExclusive, so
  the move fails with EBUSY: holds. A kernel that moved it would map the shared page writable at a1, and the
  parent's store would reach the child (tests/test_uffd_move.py checks that such a variant is caught).
"""

from modelcheck import Spec
from modelcheck.cow import CowWorld

SPEC = Spec(
    id="S8-shared",
    title="UFFDIO_MOVE of a page COW-shared with a child",
    world=lambda: CowWorld.scripted({
        "parent": ["fork", "uffd_move a0 a1", "store a1"],
        "child1": ["load a0"],
    }, fresh=["a1"]),
    invariants=["no_leak_to_child", "no_lost_write"],
)
