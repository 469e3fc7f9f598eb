"""L1 (cow-after-2022.md, P25): the parent writes a PTE-mapped THP no other process maps any more.

The parent's memory is a THP of two pages mapped by PTEs (its PMD split, as cow.c's "PTE-mapped THP" runs
make it); it forks, the child exits, and the parent writes. Nothing but the parent's own mappings hold the
folio, so copying the page is spurious (no_spurious_copy):

* up to v5.8 the write fault asks reuse_swap_page, whose page_trans_huge_mapcount (the most any page of the
  THP is mapped) is 1: reused, holds;
* v5.9 to v6.14 copy: do_wp_page's refcount is the folio's, one per PTE of the THP (5.9-6.8), and from 6.9
  (781a3ca5c345) a large folio that is not exclusive is never reused: violated;
* v6.15 (1da190f4d0a6 with 6af8cb80d3a9's MM-owner tracking, from 6.15-rc1): the folio is mapped only by
  the parent (the child's exit freed its slot and cleared the maybe-shared bit) and its large mapcount
  equals its refcount: reused, holds.
"""

from modelcheck import Spec
from modelcheck.cow import CowWorld
from modelcheck.cow.policies.releases import changed_in

SPEC = Spec(
    id="L1-pte-thp-reuse",
    title="COW reuse of a PTE-mapped THP once the sharer exited",
    world=lambda pages: CowWorld.scripted({
        "parent": ["fork", "wait child1", "store a0"],
        "child1": ["exit"],
    }, thp=pages, thp_pte=True),
    params={"pages": 2},
    ladder=[{}, {"pages": 4}],
    mirrors=[],
    invariants=["no_spurious_copy", "large_folio_exclusive_when_writable", "no_leak_to_child"],
    expect=changed_in("mm_owner_6_15_rc1") | {"dirty_cow": "holds", "mapcount": "holds", "gup_cow_break": "holds",
                                          "andrea_cor": "holds"},
)
