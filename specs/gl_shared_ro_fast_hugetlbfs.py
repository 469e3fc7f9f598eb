"""GL-shared-ro-memfd-fast-hugetlb: gl_shared_ro_fast_shmem.py on a hugetlbfs file, as gup_longterm.c runs
test_shared_ro_fast_pin on "memfd hugetlb".

The file is a hugetlbfs one (memfd_create with MFD_HUGETLB, ``CowWorld.with_hugetlb`` of the shmem scenario): its
page and every copy of it are huge pages. hugetlb_wp treats the page-cache page as do_wp_page does a shmem one
(written in place through a shared mapping, copied in a private one), a long-term pin is allowed as in shmem (no
dirty tracking), and a R/O long-term pin in a private mapping unshares it from v6.2 (follow_hugetlb_page asks
gup_must_unshare with the VMA, as the base pages' path does: 84209e87c696).

The verdicts are the shmem twin's, for its reasons.
"""

from dataclasses import replace
from pathlib import Path

from modelcheck.spec import load_spec

BASE = load_spec(Path(__file__).with_name("gl_shared_ro_fast_shmem.py"))

SPEC = replace(
    BASE,
    id=BASE.id + "-hugetlb",
    title=BASE.title + " (hugetlbfs file)",
    world=lambda **params: BASE.world(**params).with_hugetlb(),
    mirrors=[("gup_longterm.c", "test_shared_ro_fast_pin", "memfd-hugetlb")],
    expect={
        "dirty_cow": "holds", "mapcount": "holds", "gup_cow_break": "holds", "page_count": "holds",
        "page_count_early_cow": "holds", "page_count_fork_copy": "holds", "refcount_5_18": "holds",
        "anon_exclusive": "holds", "anon_exclusive_6_2": "holds", "per_vma_lock_6_4": "holds",
        "odirect_pins_6_5": "holds", "uffd_wp_async_6_7": "holds", "uffd_move_6_8": "holds",
        "large_folio_6_9": "holds", "large_swapin_6_11": "holds", "huge_zero_thp_6_13": "holds",
        "mm_owner_6_15_rc1": "holds",
        "mm_owner_6_15": "holds", "mainline_7_3": "holds",
    },
)
