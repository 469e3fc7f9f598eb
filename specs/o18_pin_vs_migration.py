"""O18 (cow-history.md): a long-term R/W pin, and compaction migrating the pinned page.

The parent writes a0, pins it R/W for DMA (FOLL_PIN|FOLL_WRITE|FOLL_LONGTERM, the slow path: the twin of
O18-fast), the device writes through the pin and the parent reads a0; the kernel may migrate a0's page at
any moment (compaction, NUMA balancing).
Migration unmaps the page to migration entries and then wants its refcount to be its isolation's reference
alone (folio_expected_ref_count, folio_ref_freeze in __folio_migrate_mapping, mm/migrate.c): a pin (or any
reference but the mappings) makes it fail and map the old page back, in every era. From v5.19 the unmapping
gives up sooner, as it cannot clear PG_anon_exclusive of a page that may be pinned (6c287605fd56). A page
migrated before the pin keeps its exclusivity through its migration entry (RMAP_EXCLUSIVE unless the entry is
readable), so the pin needs no unsharing afterwards: pin_coherent and no_lost_write hold under every policy.
"""

from modelcheck import Spec
from modelcheck.cow import CowWorld

SPEC = Spec(
    id="O18",
    title="a long-term R/W pin and page migration (compaction) of the pinned page",
    world=lambda: CowWorld.scripted({
        "parent": ["store a0", "pin_rw a0 -> pin", "dma_write pin", "load a0"],
    }, events=["migrate"]),
    invariants=["pin_coherent", "no_lost_write", "refcount_sane"],
    covers=["migrate"],
)
