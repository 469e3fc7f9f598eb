"""B7-gup: B7 (b7_large_reuse_sanity_before_lock.py) with the write fault raised by GUP, not by a store.

The parent takes a R/W long-term pin of a0 (FOLL_WRITE: the pin faults first) while the child unmaps its PMD
of the THP. GUP's write fault asks the same __wp_can_reuse_large_anon_folio as a store's, in one step: it
reads the folio once, so what it sees between the child's two unmap steps (the large mapcount dropped, the
entire mapcount not yet) it sees in both looks, and 6.15-rc1 (1da190f4d0a6) asserts the folio's sanity
before it finds that the refcount, which still holds the child's reference, forbids the reuse.

* ``mm_owner_6_15_rc1``: VM_WARN_ON_ONCE(folio_entire_mapcount(folio)) fires: violated;
* ``mm_owner_6_15`` and ``mainline_7_3`` (8bdea2fce980): the checks run only once the reuse is decided: holds;
* before v6.15 nothing warns: holds. The pin stays coherent with the parent's mapping in every era.
"""

from modelcheck import Spec
from modelcheck.cow import CowWorld, only_in

SPEC = Spec(
    id="B7-gup",
    title="6.15-rc1: a GUP write fault asserts the large folio's sanity while another MM unmaps its PMD",
    world=lambda pages: CowWorld.scripted({
        "parent": ["fork", "mprotect_ro a1", "signal split", "pin_rw a0 -> buf"],
        "child1": ["await split", "munmap_thp a0"],
    }, thp=pages),
    params={"pages": 2},
    ladder=[{}, {"pages": 4}],
    mirrors=[],
    invariants=["no_kernel_warning", "refcount_covers_mapcount", "large_folio_exclusive_when_writable",
                "pin_coherent"],
    expect=only_in("mm_owner_6_15_rc1"),
)
