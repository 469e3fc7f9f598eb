"""O18-fork: migration of a page parent and child share, then the parent writes (CVE-2020-29374's shape).

After fork the parent's and the child's PTEs map a0's page read-only, and it is not exclusive. Migration
turns both into readable migration entries (try_to_migrate_one: the page is not PG_anon_exclusive, so no pin
test and no readable-exclusive entry) and remove_migration_pte maps the new page read-only and not exclusive
(no RMAP_EXCLUSIVE for a readable entry) in both; the parent's store then write-faults, and the era's reuse
test must still see the child's mapping. The child reads a0 last: no_leak_to_child says it never sees the
parent's store, under every era's reuse rule.
"""

from modelcheck import Spec
from modelcheck.cow import CowWorld

SPEC = Spec(
    id="O18-fork",
    title="migration of a page shared by parent and child, then the parent's write",
    world=lambda: CowWorld.scripted({
        "parent": ["store a0", "fork", "store a0"],
        "child1": ["load a0"],
    }, events=["migrate"]),
    invariants=["no_leak_to_child", "refcount_sane"],
    covers=["migrate"],
)
