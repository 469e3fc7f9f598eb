"""B8 (cow-after-2022.md; 4b7c0857f87a): 6.15-rc1 asserted the large mapcount was not below the refcount.

The parent's PTE-mapped THP (two pages) is forked; the child exits, so only the parent maps the folio (its
pages no longer PG_anon_exclusive, the maybe-shared bit cleared) and every reference is one of its two
mappings. The parent writes a0: __wp_can_reuse_large_anon_folio reads the large mapcount equal to the
refcount without a lock, then takes folio_lock_large_mapcount to read them again. A speculative reference
(a page-cache or LRU walker's folio_try_get) may come between: as merged in v6.15-rc1 (1da190f4d0a6) the
check then asserted VM_WARN_ON_ONCE(large mapcount < refcount), which an extra reference makes true
legitimately; Kairui Song hit it under swap stress (mapcount 8, refcount 9). 4b7c0857f87a turned it round:
the refcount covers the mapcount, so only a mapcount above it is a bug. Either way the recheck fails and
the fault copies.

* ``mm_owner_6_15_rc1``: the inverted warning, violated;
* ``mm_owner_6_15`` and ``mainline_7_3``: holds;
* before v6.15 a large folio that is not exclusive is never reused (6.9) or its refcount is read once: holds.
"""

from modelcheck import Spec
from modelcheck.cow import CowWorld, only_in

SPEC = Spec(
    id="B8-inverted-assertion",
    title="6.15-rc1: the reuse check's assertion under the lock, the wrong way round",
    world=lambda pages, S: CowWorld.scripted({
        "parent": ["fork", "wait child1", "store a0"],
        "child1": ["exit"],
    }, thp=pages, thp_pte=True, events=["spec"], speculative=S),
    params={"pages": 2, "S": 1},
    ladder=[{}, {"pages": 4}, {"pages": 4, "S": 2}],
    mirrors=[],
    invariants=["no_kernel_warning", "refcount_covers_mapcount", "large_folio_exclusive_when_writable"],
    expect=only_in("mm_owner_6_15_rc1"),
)
