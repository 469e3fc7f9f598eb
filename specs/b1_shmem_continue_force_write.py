"""B1 (CVE-2022-2590, Dirty COW restricted to shmem): a FOLL_FORCE write, MADV_DONTNEED and UFFDIO_CONTINUE.

A process maps a shmem file (a memfd, or a tmpfs file it may only read) MAP_PRIVATE at a0, read-only
(mprotect(PROT_READ): VM_WRITE off, VM_MAYWRITE kept, as every private mapping has), and registers it with a
userfaultfd for minor faults. One thread writes into a0 through /proc/self/mem (FOLL_FORCE|FOLL_WRITE), a
second calls madvise(MADV_DONTNEED) on it, a third UFFDIO_CONTINUE, and the handler answers every minor fault
with UFFDIO_CONTINUE. Steps of the attack (5535be309971's message): the forced write finds the page-cache
page read-only and takes a COW fault (an anonymous copy, read-only and dirty: FOLL_COW is set); DONTNEED zaps
the copy; UFFDIO_CONTINUE maps the page-cache page again, read-only and dirty since 9ae0f87d009c; the forced
write looks again, finds a dirty read-only PTE and, with FOLL_COW, writes through it into the file.

* ``dirty_cow`` (every release to v4.8): the retry after the COW fault has no FOLL_WRITE, so the zapped PTE gets
  a read fault, which maps the page-cache page, and the write lands in the file: violated, as CVE-2016-5195
  was exploited against a file one may only read (no minor faults before v5.14: the kernel refuses the
  registration, and every fault maps the page as any other).
* v4.9 to v5.15 (``mapcount``, ``gup_cow_break``, ``page_count``, and the proposals built on ``page_count``):
  FOLL_COW follows only a dirty read-only PTE, and UFFDIO_CONTINUE (v5.14 on) maps the page clean: holds.
* v5.16 to v5.19 (``page_count_fork_copy`` stands for v5.17 with every piece in, 9ae0f87d009c among them;
  ``refcount_5_18``; ``anon_exclusive``): the dirty read-only page-cache PTE is followed: violated. So is
  ``page_count_refuse_wrprotect``, a proposal the model builds on the v5.17 composition.
* 5535be309971 (v6.0; ``anon_exclusive_6_2`` on): a read-only PTE is followed only for an exclusive anonymous
  page, so the forced write faults again and writes its own copy: holds. (The PTE UFFDIO_CONTINUE installs is
  still dirty in the 7.1.5 tree.)
"""

from modelcheck import Spec
from modelcheck.cow import CowWorld, changed_in

SPEC = Spec(
    id="B1",
    title="CVE-2022-2590: a FOLL_FORCE write, MADV_DONTNEED and UFFDIO_CONTINUE on a private shmem mapping",
    world=lambda: CowWorld.scripted({
        "parent": ["mprotect_ro a0", "load a0", "force_write a0"],
        "parent.2": ["dontneed a0"],
        "parent.3": ["uffd_continue a0"],
    }, file="shmem", maps={"a0": "private"}),
    invariants=["private_write_stays_private", "no_lost_write", "refcount_sane"],
    expect=changed_in("anon_exclusive_6_2") | {
        "dirty_cow": "violated",  # CVE-2016-5195: the read fault maps the page-cache page, which is written
        "mapcount": "holds", "gup_cow_break": "holds", "page_count": "holds",  # UFFDIO_CONTINUE maps it clean
        "page_count_early_cow": "holds",
        "andrea_cor": "holds", "jason_2020": "holds",
        "page_count_refuse_wrprotect": "violated",
    },
)
