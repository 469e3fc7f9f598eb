"""S8-pinned: UFFDIO_MOVE of a page a device has pinned (cow-after-2022 P21, S8).

The parent's page at a0 is its own and writable; it takes a R/O long-term pin on it (the PTE is writable, so
GUP takes the page as mapped in every era), asks UFFDIO_MOVE to move it to the empty a1, writes a0 and lets
the device read the pin: the device must see the write (pin_coherent, no_lost_write).

* Before v6.8 there is no UFFDIO_MOVE (EINVAL): the page stays, the store goes through its writable PTE:
  holds.
* uffd_move_6_8 and mainline_7_3 (adef440691ba; 7.1.5 move_pages_pte and move_present_ptes): the page may be
  pinned (folio_maybe_dma_pinned), so the move fails with EBUSY: holds. A kernel that moved it would leave a0
  empty; the store would fault a fresh page in there, and the device would keep reading the moved page
  (tests/test_uffd_move.py checks that such a variant is caught).
"""

from modelcheck import Spec
from modelcheck.cow import CowWorld

SPEC = Spec(
    id="S8-pinned",
    title="UFFDIO_MOVE of a pinned page",
    world=lambda: CowWorld.scripted({
        "parent": ["pin_ro a0 -> pin", "uffd_move a0 a1", "store a0", "dma_read pin"],
    }, fresh=["a1"]),
    invariants=["pin_coherent", "no_lost_write"],
)
