"""L3 (cow-after-2022.md, P25): 6.15's reuse of a PTE-mapped THP never lets a write reach a folio another
process maps, within three processes and folios of two to four pages.

The parent's PTE-mapped THP is forked twice; then every process writes, unmaps part or all of it, or exits,
in every order. The MM-owner slots and the maybe-shared bit (6af8cb80d3a9) decide each reuse of 1da190f4d0a6;
the check is that whoever is given a writable PTE of the folio is the only process that maps any page of it
(large_folio_exclusive_when_writable), that no write is seen by another process (no_leak_across_fork), and
that none of the reuse check's assertions fires (no_kernel_warning), among them that the MM it lets write holds
one of the folio's two owner slots: the slots stay consistent with the mappings in every order.
The figure that matters is ``mm_owner_6_15``'s and ``mainline_7_3``'s: the exhaustive search of every order
at pages=2 (the default), 3 and 4 (the ladder: ``python -m modelcheck specs/l3_mm_owner_never_reuses_shared.py
--param pages=4``) holds. v5.9 to v6.14 never reuse a page another mapping shares, and hold too. Up to v5.8
(and in ``andrea_cor``, which restores that rule) reuse_swap_page reuses a page mapped once by its own mapcount
while another process maps another page of the folio: the folio-level check is violated, by design, and
safely so (no_leak_across_fork holds for them alone: a test checks it).
"""

from modelcheck import Spec
from modelcheck.cow import CowWorld

SPEC = Spec(
    id="L3-mm-owner-exclusive",
    title="MM-owner tracking: no reuse of a large folio another process maps (3 processes)",
    world=lambda pages: CowWorld.scripted({
        "parent": ["fork", "fork", "store a0", "store a1", "munmap a1", "store a0"],
        "child1": ["store a1", "store a0", "exit"],
        "child2": ["store a0", "munmap a0", "store a1"],
    }, thp=pages, thp_pte=True),
    params={"pages": 2},
    ladder=[{}, {"pages": 3}, {"pages": 4}],
    mirrors=[],
    invariants=["large_folio_exclusive_when_writable", "no_leak_across_fork", "refcount_sane", "no_kernel_warning"],
    covers=["copy"],
    expect={"dirty_cow": "violated", "mapcount": "violated", "gup_cow_break": "violated", "page_count": "holds",
            "page_count_early_cow": "holds", "page_count_fork_copy": "holds", "refcount_5_18": "holds",
            "anon_exclusive": "holds", "anon_exclusive_6_2": "holds", "per_vma_lock_6_4": "holds",
            "odirect_pins_6_5": "holds", "uffd_wp_async_6_7": "holds", "uffd_move_6_8": "holds",
            "large_folio_6_9": "holds", "large_swapin_6_11": "holds", "huge_zero_thp_6_13": "holds",
            "mm_owner_6_15_rc1": "holds", "mm_owner_6_15": "holds", "mainline_7_3": "holds", "andrea_cor": "violated"},
)
