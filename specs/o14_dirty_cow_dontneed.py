"""O14 (Dirty COW, CVE-2016-5195, on an anonymous mapping): a FOLL_FORCE write races MADV_DONTNEED.

The parent maps a0 read-only (mprotect(PROT_READ): VM_WRITE off, VM_MAYWRITE kept) and writes into it
through /proc/self/mem (FOLL_FORCE|FOLL_WRITE) while a second thread keeps calling madvise(MADV_DONTNEED) on
it; a1 is untouched, so a load of it maps and reads the shared zero page. Steps: the forced write finds the
read-only PTE and takes a write fault (reuse: the page is the parent's alone, mapped read-only and dirty);
DONTNEED zaps it; the forced write looks again and finds nothing mapped.

* before 19be0eaffa3a (``dirty_cow``, every release to v4.8; CVE-2016-5195): the fault dropped FOLL_WRITE, so
  the retry takes a read fault, which maps the shared zero page, and the write lands in it: the load of a1
  reads the forced value instead of zeros (no_lost_write violated: the parent never wrote a1). With a
  private file mapping the page is the page cache's, which is the exploit; the world's is the zero page.
* 19be0eaffa3a (v4.8.3, v4.9) to v5.19: FOLL_WRITE stays, FOLL_COW marks the COW fault and a read-only PTE
  is followed only if dirty; the empty PTE gets a write fault (a fresh page) and the write lands there: holds.
* 5535be309971 (v6.0 on, S28): a read-only PTE is followed only for an exclusive anonymous page: holds.
"""

from modelcheck import Spec
from modelcheck.cow import CowWorld

SPEC = Spec(
    id="O14-dontneed",
    title="Dirty COW: a FOLL_FORCE write racing MADV_DONTNEED",
    world=lambda: CowWorld.scripted({
        "parent": ["mprotect_ro a0", "force_write a0", "load a1"],
        "parent.2": ["dontneed a0"],
    }, fresh=["a1"]),
    invariants=["no_lost_write", "refcount_sane"],
    expect={policy: "holds" for policy in (
        "mapcount", "gup_cow_break", "page_count", "page_count_early_cow", "page_count_fork_copy", "refcount_5_18",
        "anon_exclusive", "anon_exclusive_6_2", "per_vma_lock_6_4", "odirect_pins_6_5", "uffd_wp_async_6_7",
        "uffd_move_6_8", "large_folio_6_9", "large_swapin_6_11", "huge_zero_thp_6_13", "mm_owner_6_15_rc1",
        "mm_owner_6_15", "mainline_7_3",
        "andrea_cor", "jason_2020",
        "page_count_refuse_wrprotect")} | {
        "dirty_cow": "violated",  # CVE-2016-5195: the retry without FOLL_WRITE writes the zero page
    },
)
