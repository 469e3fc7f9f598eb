"""B7 (cow-after-2022.md; 8bdea2fce980): 6.15-rc1's reuse check asserted a folio's sanity before the lock.

The parent's THP (two pages) is shared with the child by fork, both mapping it by a PMD; mprotect() of the
second page splits the parent's PMD, so the parent maps the folio by PTEs while the child still maps it by
its PMD. The child unmaps the THP while the parent writes a0. zap_huge_pmd drops the PMD's large mapcount
first (which frees the child's MM-owner slot and clears the maybe-shared bit: only the parent's PTEs are
left) and its entire mapcount next (CONFIG_PAGE_MAPCOUNT's order, mm/rmap.c). A write fault that looks in
between passes the early checks, and as merged in v6.15-rc1 (1da190f4d0a6) asserted at once that no PMD
maps the folio: VM_WARN_ON_ONCE(folio_entire_mapcount(folio)) fires, as syzbot saw on 6.15-rc1. Harmless
(the refcount still holds the child's reference, so the fault copies), but a warning: 8bdea2fce980 moved
the checks behind the recheck under the large mapcount's lock, which needs every reference to be a mapping.

* ``mm_owner_6_15_rc1``: the warning, violated;
* ``mm_owner_6_15`` and ``mainline_7_3``: the sanity checks run only once the recheck passed: holds;
* before v6.15 no write fault reuses a large folio it does not own exclusively, and none warns: holds.
"""

from modelcheck import Spec
from modelcheck.cow import CowWorld, only_in

SPEC = Spec(
    id="B7-sanity-before-lock",
    title="6.15-rc1: the large folio's sanity asserted before the lock, while another MM unmaps its PMD",
    world=lambda pages: CowWorld.scripted({
        "parent": ["fork", "mprotect_ro a1", "signal split", "store a0"],
        "child1": ["await split", "munmap_thp a0"],
    }, thp=pages),
    params={"pages": 2},
    ladder=[{}, {"pages": 4}],
    mirrors=[],
    invariants=["no_kernel_warning", "refcount_covers_mapcount", "large_folio_exclusive_when_writable"],
    expect=only_in("mm_owner_6_15_rc1"),
)
