"""K4 (KSM merges a uffd-wp-protected page): the merged-away PTE loses its uffd-wp bit, and a store escapes.

The parent marks a0 and a1, of the same contents, mergeable and
write-protects both through a synchronous userfaultfd (UFFDIO_WRITEPROTECT),
then signals its monitor thread and stores to a0; the monitor (parent.2)
answers by turning the protection of a0 off (what a handler of the userfault
does). ksmd may merge the two pages at any point (kernel ksm_merge).

In mm/ksm.c of the 7.1.5 tree, replace_page builds the new PTE from the
VMA's protection (mk_pte(kpage, vm_page_prot)), with no uffd-wp bit, while
write_protect_page keeps the bits of the page that becomes the KSM page; and
neither mm/ksm.c nor the userfaultfd code keeps uffd-wp ranges out of KSM. So
the page merged away is mapped read-only without its uffd-wp bit, the store
to a0 write-faults on a KSM page, which do_wp_page copies with no userfault,
and the write goes through while the monitor still protects a0:
uffd_wp_effective violated. Older trees were not read for this: the model
gives every era the 7.1.5 replace_page (uffd-wp exists from v5.7).

Checked on the running 6.18 kernel (a program of these steps, ksmd run for a
few seconds): before the merge both pages' /proc/self/pagemap entries have
the uffd-wp bit (57); after it both map one frame, the replaced one without
the bit; a store to it completes with no userfaultfd event, while a store to
the other blocks and raises one.
"""

from modelcheck import Spec
from modelcheck.cow import CowWorld

SPEC = Spec(
    id="K4-ksm-drops-uffd-wp",
    title="KSM merge of a uffd-wp-protected page drops the protection",
    world=lambda: CowWorld.scripted({
        "parent": ["madvise_mergeable a0", "madvise_mergeable a1", "uffd_wp a0", "uffd_wp a1", "signal protected",
                   "store a0"],
        "parent.2": ["await protected", "uffd_unwp a0"],
    }, events=["ksm"]),
    invariants=["uffd_wp_effective"],
    covers=["ksm_merge"],
    expect={name: "violated" for name in (
        "dirty_cow", "mapcount", "gup_cow_break", "page_count", "page_count_fork_copy", "refcount_5_18",
        "anon_exclusive", "anon_exclusive_6_2", "per_vma_lock_6_4", "odirect_pins_6_5", "uffd_wp_async_6_7",
        "uffd_move_6_8", "large_folio_6_9", "large_swapin_6_11", "huge_zero_thp_6_13", "mm_owner_6_15_rc1",
        "mm_owner_6_15", "mainline_7_3",
        "andrea_cor", "jason_2020",
        "page_count_refuse_wrprotect")},
)
