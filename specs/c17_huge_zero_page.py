"""C17-hugezero (cow.c's test_cow on the huge zeropage): a write to memory that maps the huge zero page must not
reach any other mapping of zeros.

The selftest maps two private anonymous regions with MADV_HUGEPAGE and reads each, so that a PMD maps the huge
zero page in both; it fills the first and reads the second again. Here a0-a1 is the first region, one THP's
range (two pages, standing for 512) that the read fault maps the huge zero page over, and a2 the second, a page
the read maps the shared zero page at (the world has one THP range; what the write must leave alone is the
zeros, which the huge zero page's split maps from the shared zero page in every entry).

Every era holds (cow-history.md C17): a write fault on the huge zero page's PMD splits it (do_huge_pmd_wp_page's
fallback) and copies the zero page at the one PTE; from v6.13 (1ced09e0331f, ``huge_zero_thp_6_13``) it maps a
fresh zero-filled THP by the PMD instead, which leaves the zeros elsewhere alone as well. (So the split is not
among what every run must fire.)
"""

from modelcheck import Spec
from modelcheck.cow import CowWorld

SPEC = Spec(
    id="C17-hugezero",
    title="huge zero page: read fault, write fault, the zeros elsewhere unchanged",
    world=lambda: CowWorld.scripted({
        "parent": ["load a0", "load a2", "store a0", "store a1", "load a2", "load a0", "load a1"],
    }, thp=2, fresh=["a0", "a1", "a2"]),
    invariants=["no_lost_write", "refcount_sane"],
    mirrors=[("cow.c", "test_cow", "huge-zeropage")],
    covers=["huge_zero_map"],
)
