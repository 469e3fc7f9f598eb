"""O14-file (Dirty COW, CVE-2016-5195, as exploited): a FOLL_FORCE write into a private file mapping races
MADV_DONTNEED.

The process maps a shmem file MAP_PRIVATE read-only at a0 (a file it may only read: mprotect(PROT_READ)
here, VM_MAYWRITE kept) and writes into it through /proc/self/mem while a second thread keeps calling
madvise(MADV_DONTNEED) on it. The load maps the page-cache page (do_read_fault, read-only); the forced write
takes a COW fault (do_wp_page: a fresh anonymous copy, mapped read-only and dirty); DONTNEED zaps the copy;
the forced write looks again and finds nothing mapped.

* before 19be0eaffa3a (``dirty_cow``, every release to v4.8): the retry has no FOLL_WRITE, so the empty PTE
  gets a read fault, which maps the page-cache page, and the write lands in the file (private_write_stays_
  private violated): root-owned files written by anyone who could read them.
* 19be0eaffa3a on: the empty PTE gets a write fault (do_cow_fault: a fresh copy), written in its place: holds,
  and from 5535be309971 (v6.0) a read-only PTE is followed only for an exclusive anonymous page: holds.

B1 is the same race with UFFDIO_CONTINUE mapping the page-cache page back, read-only and dirty.
"""

from modelcheck import Spec
from modelcheck.cow import CowWorld, changed_in

SPEC = Spec(
    id="O14-file",
    title="Dirty COW on a file: a FOLL_FORCE write into a private file mapping racing MADV_DONTNEED",
    world=lambda: CowWorld.scripted({
        "parent": ["mprotect_ro a0", "load a0", "force_write a0"],
        "parent.2": ["dontneed a0"],
    }, file="shmem", maps={"a0": "private"}),
    invariants=["private_write_stays_private", "no_lost_write", "refcount_sane"],
    expect=changed_in("mapcount") | {
        "andrea_cor": "holds", "jason_2020": "holds", "page_count_refuse_wrprotect": "holds",
    },
)
