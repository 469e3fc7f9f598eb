"""K0 (KSM and a R/W pin): a pinned page is never merged.

The parent marks a0 and a1, of the same contents, mergeable, takes a R/W
long-term pin of a0 (a device's buffer), lets the device write through the pin
and reads a0 back; ksmd may run at any point (kernel ksm_merge). Until the
device writes, a0's page and a1's are identical merge candidates, but
write_protect_page gives up on a page whose refcount is more than its
mappings, the swap cache and ksmd's own reference (the pin adds 1024), and
from 5.19 the PG_anon_exclusive page could not be shared anyway
(folio_try_share_anon_rmap_pte fails for a maybe-pinned page): neither page
can be merged into the other, the pin and the mapping stay one page, and the
load sees the device's write. pin_coherent and no_lost_write hold in every era
(mm/ksm.c, write_protect_page and try_to_merge_one_page; the refcount test is
in every era's KSM).
"""

from modelcheck import Spec
from modelcheck.cow import CowWorld

SPEC = Spec(
    id="K0-ksm-pinned",
    title="a pinned page is never merged by KSM",
    world=lambda: CowWorld.scripted({
        "parent": ["madvise_mergeable a0", "madvise_mergeable a1", "pin_rw a0 -> dev", "dma_write dev", "load a0"],
    }, events=["ksm"]),
    invariants=["pin_coherent", "no_lost_write"],
    expect={name: "holds" for name in (
        "dirty_cow", "mapcount", "gup_cow_break", "page_count", "page_count_fork_copy", "refcount_5_18",
        "anon_exclusive", "anon_exclusive_6_2", "per_vma_lock_6_4", "odirect_pins_6_5", "uffd_wp_async_6_7",
        "uffd_move_6_8", "large_folio_6_9", "large_swapin_6_11", "huge_zero_thp_6_13", "mm_owner_6_15_rc1",
        "mm_owner_6_15", "mainline_7_3",
        "andrea_cor", "jason_2020",
        "page_count_refuse_wrprotect")},
)
