"""B8-gup: B8 (b8_large_reuse_inverted_assertion.py) with the write fault raised by a R/W pin, not by a store.

GUP's FOLL_WRITE fault (faultin_page, then do_wp_page) asks the same __wp_can_reuse_large_anon_folio as a
store's, in its two looks: a speculative reference taken between the look without the lock and the look under
folio_lock_large_mapcount leaves the large mapcount below the refcount, and 6.15-rc1's inverted assertion
fires; 4b7c0857f87a's does not. The pin then takes the copy the fault made, so it stays coherent either way.

* ``mm_owner_6_15_rc1``: violated (no_kernel_warning);
* every other era: holds.
"""

from modelcheck import Spec
from modelcheck.cow import CowWorld, only_in

SPEC = Spec(
    id="B8-gup",
    title="6.15-rc1: the inverted assertion under the lock, in a GUP's write fault",
    world=lambda pages, S: CowWorld.scripted({
        "parent": ["fork", "wait child1", "pin_rw a0 -> buf"],
        "child1": ["exit"],
    }, thp=pages, thp_pte=True, events=["spec"], speculative=S),
    params={"pages": 2, "S": 1},
    ladder=[{}, {"pages": 4}],
    mirrors=[],
    invariants=["no_kernel_warning", "refcount_covers_mapcount", "large_folio_exclusive_when_writable",
                "pin_coherent"],
    expect=only_in("mm_owner_6_15_rc1"),
)
