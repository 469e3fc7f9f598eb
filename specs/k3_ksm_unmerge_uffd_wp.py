"""K3 (MADV_UNMERGEABLE in a uffd-wp range): the 6.2 fix, 6cce3314b928 (ksm_functional_tests' test_unmerge_uffd_wp).

The parent marks a0 and a1 mergeable and ksmd merges them into one KSM page
(the schedule puts the merge there); the parent then write-protects a0 through
userfaultfd (UFFDIO_WRITEPROTECT) and unmerges it (madvise(MADV_UNMERGEABLE)).

* before v6.2: break_ksm raises a write fault; do_wp_page finds a uffd-wp PTE
  and hands it to handle_userfault, which cannot retry a fault that did not
  allow it and returns VM_FAULT_SIGBUS; break_ksm stops on SIGBUS and returns
  0, so madvise succeeds with a0 still mapping the KSM page: ksm_unmerged
  violated (the commit message shows the selftest failing: "not ok 3 Pages
  were unmerged").
* v6.2 on (6cce3314b928): break_ksm raises an unsharing fault, which never
  reaches userfaultfd: a0 gets a read-only exclusive copy, its uffd-wp bit
  kept (the write-protection stays effective): holds.
"""

from modelcheck import Spec
from modelcheck.cow import CowWorld

SPEC = Spec(
    id="K3-ksm-unmerge-uffd-wp",
    title="MADV_UNMERGEABLE of a KSM page under uffd-wp",
    world=lambda: CowWorld.scripted({
        "parent": ["madvise_mergeable a0", "madvise_mergeable a1", "uffd_wp a0", "madvise_unmergeable a0"],
    }, events=["ksm"], schedule=["parent", "parent", "kernel ksm_merge(page 0)"]),
    invariants=["ksm_unmerged"],
    covers=["ksm_merge"],
    expect={
        "dirty_cow": "violated",  # the mapcount rule before 19be0eaffa3a: only FOLL_FORCE differs
        "mapcount": "violated",              # break_ksm's write fault: VM_FAULT_SIGBUS on the uffd-wp PTE
        "gup_cow_break": "violated",
        "page_count": "violated",
        "page_count_fork_copy": "violated",
        "refcount_5_18": "violated",
        "anon_exclusive": "violated",        # 5.19 to 6.1: still the write fault
        "anon_exclusive_6_2": "holds",       # 6cce3314b928: FAULT_FLAG_UNSHARE
        "per_vma_lock_6_4": "holds",  # as anon_exclusive_6_2: the per-VMA lock shows only with TLBs
        "odirect_pins_6_5": "holds",
        "uffd_wp_async_6_7": "holds",
        "uffd_move_6_8": "holds",  # as uffd_wp_async_6_7 (no UFFDIO_MOVE here)
        "mainline_7_3": "holds",
        "andrea_cor": "violated",
        "jason_2020": "violated",
        "page_count_refuse_wrprotect": "violated",
    },
)
