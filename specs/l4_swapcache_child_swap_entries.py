"""L4 (cow-after-2022.md, P23/P25, the swapcache case of L3): a large folio in the swap cache, shared only by
swap entries.

The parent's PTE-mapped THP (two pages) is reclaimed into the swap cache and stays there whole (its writeback
not finished: ``pageout_thp_cached``); then the parent forks, so the child inherits swap entries of the folio,
not mappings, and the parent writes a0 while the child reads both pages. MM-owner tracking counts mappings
only: when the parent's fault maps the folio back (whole, from 508758960b8d in v6.11), the folio is mapped by
the parent alone, its maybe-shared bit clear. What keeps 6.15's reuse (1da190f4d0a6) off is the swap cache:
it cannot be freed while the child's swap entries name the folio, and its references keep the refcount above
the large mapcount, so the fault copies. The child must read the contents from before the fork
(no_leak_across_fork), and no process may write a page of the folio while another maps it.

* every era holds: up to v5.8 reuse_swap_page counts the child's swap entries (page_trans_huge_map_swapcount);
  v5.9 to v6.14 never reuse a page of a large folio the parent does not own exclusively; v6.15 on see the
  swap cache's references (a test shows a kernel that freed it regardless leaking the write to the child).
"""

from modelcheck import Spec
from modelcheck.cow import CowWorld

SPEC = Spec(
    id="L4-swapcache-child",
    title="A large folio in the swap cache, shared by the child's swap entries only, and the parent's write",
    world=lambda pages: CowWorld.scripted({
        "parent": ["pageout_thp_cached a0", "fork", "store a0"],
        "child1": ["load a0", "load a1"],
    }, thp=pages, thp_pte=True),
    params={"pages": 2},
    ladder=[{}, {"pages": 4}],
    mirrors=[],
    invariants=["no_leak_across_fork", "large_folio_exclusive_when_writable", "refcount_sane",
                "refcount_covers_mapcount", "no_kernel_warning"],
)
