"""O18-fast (cow-history.md 5.5 and 5.6): GUP-fast pins a page while migration unmaps it.

The parent writes a0 and pins it R/W with pin_user_pages_fast, as RDMA's ib_umem_get does; the device
writes through the pin and the parent reads a0. GUP-fast takes no lock: it reads the PTE, pins the page,
then reads the PTE again and keeps the pin only if it is unchanged and the page needs no unsharing. Migration
of an exclusive page is PageAnonExclusive's clearing protocol (try_to_migrate_one, 7.1.5 tree): clear and
flush the PTE, then try to clear the flag, which fails if the page may be pinned (the PTE is restored and
migration gives up), then the migration entry, the refcount freeze and the move. In whichever order the
two interleave, either the pin is seen (the pin test, or the freeze, fails) or GUP-fast's second look sees the
cleared PTE, drops its pin and leaves it to the slow path, which waits for the migration entry and pins the
new page: pin_coherent holds in every era (under sequential consistency; the memory barrier of
088b8aa537c2 is what makes the same hold on weakly ordered CPUs).
"""

from modelcheck import Spec
from modelcheck.cow import CowWorld

SPEC = Spec(
    id="O18-fast",
    title="GUP-fast pinning a page that migration is unmapping (the clearing protocol)",
    world=lambda: CowWorld.scripted({
        "parent": ["store a0", "pin_rw_fast a0 -> pin", "dma_write pin", "load a0"],
    }, events=["migrate"]),
    invariants=["pin_coherent", "no_lost_write", "refcount_sane"],
    covers=["migrate"],
)
