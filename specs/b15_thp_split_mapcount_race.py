"""CVE-2020-29368 (Jann Horn; c444eb564fb1): a THP's mapcount read while another process splits its PMD.

The parent's memory is one THP (two pages here), mapped by a PMD in the parent and, after fork, in the
child too. The parent writes: do_huge_pmd_wp_page asks reuse_swap_page, which sums page_trans_huge_mapcount
from several counters (the most any page's _mapcount says, less DoubleMap, plus the compound mapcount) under
the page lock. Meanwhile the child unmaps the THP's second page: __split_huge_pmd_locked turns its PMD into
PTEs, moving its count from the compound mapcount into the pages' (and setting DoubleMap), under only the
child's PMD lock. A fault that read the pages' counts before the split and the rest after sums 0 - 1 + 1 = 0
and reuses a THP the child still maps: the child reads the parent's write (no_leak_to_child).

* before c444eb564fb1 (``dirty_cow``, ``mapcount``: v5.7 as released; 5.7.5 has the fix as a backport): the
  fault reads the counts in two steps, and breadth-first search finds the split between them: violated;
* c444eb564fb1 (v5.8) makes __split_huge_pmd take the page lock, so the fault's reads see the split whole or
  not at all: holds from ``gup_cow_break`` on (and from v5.18 no COW decision reads those counts).
"""

from modelcheck import Spec
from modelcheck.cow import CowWorld

SPEC = Spec(
    id="B15-thp-split",
    title="CVE-2020-29368: THP mapcount read during a split in another process",
    world=lambda: CowWorld.scripted({
        "parent": ["fork", "store a0"],
        "child1": ["munmap a1", "load a0"],
    }, thp=2),
    mirrors=[],
    invariants=["no_leak_to_child", "refcount_sane"],
    covers=["pmd_split"],
    expect={
        "dirty_cow": "violated", "mapcount": "violated",
        "gup_cow_break": "holds", "page_count": "holds", "page_count_early_cow": "holds",
        "page_count_fork_copy": "holds", "refcount_5_18": "holds", "anon_exclusive": "holds",
        "anon_exclusive_6_2": "holds", "per_vma_lock_6_4": "holds", "odirect_pins_6_5": "holds",
        "uffd_wp_async_6_7": "holds", "uffd_move_6_8": "holds",
        "large_folio_6_9": "holds", "large_swapin_6_11": "holds", "huge_zero_thp_6_13": "holds",
        "mm_owner_6_15_rc1": "holds", "mm_owner_6_15": "holds",
        "mainline_7_3": "holds",
        "andrea_cor": "holds", "jason_2020": "holds", "page_count_refuse_wrprotect": "holds",
    },
)
