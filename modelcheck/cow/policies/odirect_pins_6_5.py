"""``odirect_pins_6_5``: v6.5 on, O_DIRECT pins its buffer with FOLL_PIN, and fork locks the VMAs it copies.

David Howells' "block: Use page pinning" series (for-6.5/block): bio_iov_iter_get_pages, which block-device
and iomap direct I/O both call, takes its user pages through iov_iter_extract_pages, and for a user-backed
iterator that pins them (FOLL_PIN) and marks the bio BIO_PAGE_PINNED (read in the 7.1.5 tree: block/bio.c
sets the flag when iov_iter_extract_will_pin; lib/iov_iter.c documents that a user-backed iterator gets
pins, not references). An O_DIRECT buffer is then seen by page_maybe_dma_pinned(): fork copies it for the
child if it is exclusive (the parent keeps its page, cow-after-2022 P16), clear_refs leaves its writable PTE
alone, and a read-only O_DIRECT pin of a shared page unshares it first, all through the rules of 5.19 and 6.2.

The same release changes what GUP allows on file mappings, each a piece below (read in the 7.1.5 tree:
check_vma_flags and writable_file_mapping_allowed in mm/gup.c; the ids and the release as
cow-after-2022.md P17 gives them, from linux-next and later Fixes tags):
* 8ac268436e6d "mm/gup: disallow FOLL_LONGTERM GUP-nonfast writing to file-backed mappings": a
  FOLL_PIN|FOLL_LONGTERM|FOLL_WRITE GUP on a VMA that is not anonymous and needs dirty tracking (a MAP_SHARED
  mapping of a file whose file system writes dirty pages back: ext4, xfs, btrfs; not shmem, tmpfs or
  hugetlbfs) fails with -EFAULT in check_vma_flags. Its GUP-fast twin, a6e79df92e4a (its subject and message
  read: the fast path now refuses what "the slow path already" does, May 2023), decides the same on the fast
  path (the world's GUP-fast asks this piece's rule: ``gup.fast_walk_takes``); the slow-path id is the other
  of the pair, not read in a tree.
* io_uring's buffer registration stops refusing file-backed memory itself and leaves it to that GUP check:
  "io_uring: rsrc: delegate VMA file-backed check to GUP" (Lorenzo Stoakes, the same series; its id,
  edd478269640, is not verified in a tree). Before it, io_uring refused every file-backed VMA but hugetlbfs
  (-EOPNOTSUPP), MAP_PRIVATE and shmem ones too; gup_longterm.c accepts that error as "only new kernels
  return EFAULT" says.

And the O_DIRECT series itself has c8070b787519 "mm: Don't pin ZERO_PAGE in pin_user_pages()": a FOLL_PIN of
the shared zero page takes no reference (S6), a piece below.

Commits of the release this world does not tell apart, so not pieces:
* 1ccf164ec866 "block: Use iov_iter_extract_pages() and page pinning in direct-io.c", the same change for
  the legacy fs/direct-io.c path: the world has one O_DIRECT path, which this policy already pins.
The 6.3 row of the notes changes no decision here either: every architecture keeps the swap PTE's
exclusive bit from 6.3 (the world's swap PTE already has it, as x86 did since 5.19). fork write-locks the
parent's VMAs from 6.5 (fb49c455323f), the fix of ``per_vma_lock_6_4``'s fault during fork: a piece below.
"""

from modelcheck.cow.policies.base import GupRequest
from modelcheck.cow.policies.mapcount import Pre2020Rule
from modelcheck.cow.policies.per_vma_lock_6_4 import PerVmaLock64Policy
from modelcheck.cow.policies.pieces import commit, era


@commit("fb49c455323f", "fork: lock VMAs of the parent process when forking", "v6.5",
        "fork write-locks every VMA of the parent, so a page fault waits until fork has flushed")
class ForkLocksVmas(Pre2020Rule):
    """dup_mmap takes each source VMA's write lock (vma_start_write; vma_start_write_killable in the 7.1.5
    tree, mm/mmap.c) before copying it, and the locks go with mmap_lock at its end, after the TLB flush: a
    fault under the VMA lock waits as one under mmap_lock did before 6.4, and fork waits for a fault that
    holds the VMA lock already."""

    fork_locks_vmas = True


@commit("a7e689dd1c06", "block: Convert bio_iov_iter_get_pages to use iov_iter_extract_pages", "v6.5",
        "O_DIRECT through the block layer and iomap pins its pages (FOLL_PIN) instead of FOLL_GET",
        also=("fd363244e883",))
class ODirectPinsPages(Pre2020Rule):
    """Block and iomap O_DIRECT take FOLL_PIN on a user buffer (FOLL_WRITE too when the device writes it) and
    unpin it when the bio completes; fd363244e883 ("block: Add BIO_PAGE_PINNED and associated
    infrastructure") is the flag and the release path it relies on, deciding nothing by itself. The pin is
    not FOLL_LONGTERM."""

    odirect_pins = True


@commit("8ac268436e6d", "mm/gup: disallow FOLL_LONGTERM GUP-nonfast writing to file-backed mappings", "v6.5",
        "a long-term writable pin of a shared file mapping that needs dirty tracking fails (-EFAULT)")
class NoLongtermWritablePinsOfDirtyTrackedFiles(Pre2020Rule):
    """writable_file_mapping_allowed: a writer through a long-term pin bypasses the file system's write
    notification (no page_mkwrite, no dirty accounting), so such a pin is refused where the VMA needs
    dirty tracking; shmem and private mappings (whose writes COW into anonymous pages) are allowed."""

    def gup_refuses(self, request: GupRequest) -> bool:
        return (request.write and request.pin and request.longterm and not request.anon_vma
                and request.needs_dirty_tracking) or super().gup_refuses(request)


@commit("edd478269640", "io_uring: rsrc: delegate VMA file-backed check to GUP", "v6.5",
        "io_uring registers buffers in file mappings; only GUP's own checks refuse them")
class IoUringLeavesFileCheckToGup(Pre2020Rule):
    """io_uring's registration no longer walks the VMAs to refuse file-backed memory: a buffer in a private
    or shmem mapping registers, one in a shared mapping of a dirty-tracked file is refused by GUP (-EFAULT,
    the piece before)."""

    def iouring_refuses(self, file_backed: bool) -> bool:
        return False


@commit("c8070b787519", "mm: Don't pin ZERO_PAGE in pin_user_pages()", "v6.5",
        "a FOLL_PIN of the shared zero page takes no reference (nor does its unpin drop one)")
class ZeroPagePinsTakeNoReference(Pre2020Rule):
    """David Howells, for the O_DIRECT pins of the same series (a buffer never written maps the zero page):
    try_grab_folio returns at once for the zero page under FOLL_PIN and unpinning skips it (is_zero_folio in
    the 7.1.5 tree's mm/gup.c; a FOLL_GET still takes its +1). Before it every pin added
    GUP_PIN_COUNTING_BIAS to the one count all mappings of the zero page share: "only allowed ~2 million
    pins on it", which user space can take (one per address of a large read-faulted mapping); past 2^31 the
    count is negative and every later GUP of the zero page fails (try_grab_folio's WARN, -ENOMEM)."""

    zero_page_pins_uncounted = True


ODirectPins65Policy = era("odirect_pins_6_5", "v6.5", PerVmaLock64Policy,
                          [ForkLocksVmas, ODirectPinsPages, NoLongtermWritablePinsOfDirtyTrackedFiles,
                           IoUringLeavesFileCheckToGup, ZeroPagePinsTakeNoReference],
                          summary="per_vma_lock_6_4 with fork locking VMAs, O_DIRECT pins, long-term write pins "
                                  "of disk files refused")
POLICY = ODirectPins65Policy()
