"""L2 (cow-after-2022.md, P25): the "maybe mapped shared" bit stays set after two of three MMs let go.

The parent's PTE-mapped THP (two pages) is forked twice; child1 exits, the parent unmaps the THP, and child2,
now its only mapper, writes. 6.15's MM-owner tracking has two slots: the parent takes slot 0, child1 slot 1
(which sets the bit), child2 finds none free. The bit is cleared only when one slot holds every mapping left:
after child1's exit the parent's slot holds two of four, and after the parent's munmap no slot holds
anything, so the bit stays set and child2's fault copies a page only it maps (a false positive: spurious,
never unsafe).

* v5.9 to v6.14 copy here too (the refcount, then 781a3ca5c345): violated;
* ``mm_owner_6_15`` and ``mainline_7_3``: the false positive, violated; the write is never let through to a
  folio another process maps (large_folio_exclusive_when_writable holds: see L3);
* up to v5.8 reuse_swap_page sees each page mapped once: reused, holds.
"""

from modelcheck import Spec
from modelcheck.cow import CowWorld

SPEC = Spec(
    id="L2-mm-owner-false-positive",
    title="MM-owner tracking: the maybe-shared bit outlives two of three mappers",
    world=lambda pages: CowWorld.scripted({
        "parent": ["fork", "fork", "wait child1", "munmap_thp a0", "signal unmapped"],
        "child1": ["exit"],
        "child2": ["await unmapped", "store a0"],
    }, thp=pages, thp_pte=True),
    params={"pages": 2},
    ladder=[{}, {"pages": 4}],
    mirrors=[],
    invariants=["no_spurious_copy"],
    expect={"dirty_cow": "holds", "mapcount": "holds", "gup_cow_break": "holds", "page_count": "violated",
            "page_count_early_cow": "violated", "page_count_fork_copy": "violated", "refcount_5_18": "violated",
            "anon_exclusive": "violated", "anon_exclusive_6_2": "violated", "per_vma_lock_6_4": "violated",
            "odirect_pins_6_5": "violated", "uffd_wp_async_6_7": "violated", "uffd_move_6_8": "violated",
            "large_folio_6_9": "violated", "large_swapin_6_11": "violated", "huge_zero_thp_6_13": "violated",
            "mm_owner_6_15_rc1": "violated", "mm_owner_6_15": "violated", "mainline_7_3": "violated"},
)
