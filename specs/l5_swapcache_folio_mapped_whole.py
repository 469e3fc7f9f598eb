"""L5 (cow-after-2022.md, P23/P25): a large folio only the parent references, read back whole from the swap
cache once written out, then written.

The parent forks and its child exits, so no page of the parent's PTE-mapped THP (two pages) is
PG_anon_exclusive any more; the folio is reclaimed into the swap cache and stays there whole
(``pageout_thp_cached``: its swap entries not exclusive), the swap device finishes writing it (the schedule
puts ``writeback_end`` there), and the parent reads a0 and then writes it. Nothing but the parent's mappings
and the swap cache holds the folio, so copying is spurious (no_spurious_copy):

* up to v5.8 the swap-in maps a0, and the write fault's reuse_swap_page sees every page mapped or named by a
  swap entry once: reused, holds;
* v5.9 to v6.14 copy: do_wp_page's refcount counts the swap cache's references (5.9-6.8), and from 6.9
  (781a3ca5c345) a large folio that is not exclusive is never reused: violated;
* v6.15 on: the read maps both pages at once (508758960b8d, v6.11), so no swap entry of the folio is left;
  the write fault frees its swap cache (1da190f4d0a6's folio_free_swap) and finds the large mapcount equal to
  the refcount: reused, holds. Without 508758960b8d it would copy (a test shows it): one page mapped is a
  folio the check frees up by copying. While the writeback is still under way the swap cache cannot be freed
  and 6.15 copies too (L5w, l5w_swapcache_folio_under_writeback.py, which this kernel shows live).
"""

from modelcheck import Spec
from modelcheck.cow import CowWorld
from modelcheck.cow.policies.releases import changed_in

SPEC = Spec(
    id="L5-swapcache-whole",
    title="A large folio read back whole from the swap cache is reused by its only process (6.15)",
    world=lambda pages: CowWorld.scripted({
        "parent": ["fork", "wait child1", "pageout_thp_cached a0", "load a0", "store a0"],
        "child1": ["exit"],
    }, thp=pages, thp_pte=True, schedule=["parent", "child1", "parent", "parent", "kernel writeback_end(page 0)"]),
    params={"pages": 2},
    ladder=[{}, {"pages": 4}],
    mirrors=[],
    invariants=["no_spurious_copy", "large_folio_exclusive_when_writable", "refcount_sane", "no_kernel_warning"],
    expect=changed_in("mm_owner_6_15_rc1") | {"dirty_cow": "holds", "mapcount": "holds", "gup_cow_break": "holds",
                                          "andrea_cor": "holds"},
)
