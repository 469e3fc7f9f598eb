"""``odirect_pins_6_5``: v6.5 on, O_DIRECT pins its buffer with FOLL_PIN, and fork locks the VMAs it copies.

David Howells' "block: Use page pinning" series (for-6.5/block): bio_iov_iter_get_pages, which block-device
and iomap direct I/O both call, takes its user pages through iov_iter_extract_pages, and for a user-backed
iterator that pins them (FOLL_PIN) and marks the bio BIO_PAGE_PINNED (read in the 7.1.5 tree: block/bio.c
sets the flag when iov_iter_extract_will_pin; lib/iov_iter.c documents that a user-backed iterator gets
pins, not references). An O_DIRECT buffer is then seen by page_maybe_dma_pinned(): fork copies it for the
child if it is exclusive (the parent keeps its page, cow-after-2022 P16), clear_refs leaves its writable PTE
alone, and a read-only O_DIRECT pin of a shared page unshares it first, all through the rules of 5.19 and 6.2.

The same release has commits this world cannot tell apart, so they are not pieces:
* c8070b787519 "mm: Don't pin ZERO_PAGE in pin_user_pages()": the world has no shared zero page (every page
  starts written), so no pin of one is ever taken.
* 8ac268436e6d / a6e79df92e4a "mm/gup: disallow FOLL_LONGTERM GUP-(non)fast writing to file-backed
  mappings": the world's memory is anonymous; there is no file mapping whose long-term write pin could be
  refused.
* 1ccf164ec866 "block: Use iov_iter_extract_pages() and page pinning in direct-io.c", the same change for
  the legacy fs/direct-io.c path: the world has one O_DIRECT path, which this policy already pins.
The 6.3 row of the notes changes no decision here either: every architecture keeps the swap PTE's
exclusive bit from 6.3 (the world's swap PTE already has it, as x86 did since 5.19). fork write-locks the
parent's VMAs from 6.5 (fb49c455323f), the fix of ``per_vma_lock_6_4``'s fault during fork: a piece below.
"""

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


ODirectPins65Policy = era("odirect_pins_6_5", "v6.5", PerVmaLock64Policy, [ForkLocksVmas, ODirectPinsPages],
                          summary="anon_exclusive_6_2 with O_DIRECT pinning (FOLL_PIN): fork and clear_refs see "
                                  "its buffers")
POLICY = ODirectPins65Policy()
