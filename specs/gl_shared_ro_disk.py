"""GL-shared-ro-file (gup_longterm.c's test_shared_ro_pin on tmpfile and local-tmpfile): a long-term R/O pin of a
MAP_SHARED file mapping.

The selftest ftruncates and fallocates one page of a disk file: the selftest's local tmpfile (an unlinked file in
the current directory) and its tmpfile() (in the temporary directory), both on ext4 on this project's machines
(with the temporary directory on tmpfs, tmpfile() would be GL-shared-ro-memfd's case; the selftest checks the file
system and expects accordingly, so it passes on a correct kernel either way), maps it MAP_SHARED read-write; the
page is written (memset), mapped read-only (mprotect(PROT_READ): more unsharing decisions to get right), then
pinned long-term R/O through gup_test (not GUP-fast) and unpinned. Here a0 is that mapping of a disk file, and the
pin is the last step (a refused one takes no reference; the selftest then reports its verdict).

The pin must work in every era, and does: a R/O pin of a MAP_SHARED mapping is no COW case (not a COW mapping:
no unsharing, no forced COW break), so every era takes the page-cache page as mapped; refusals are for
writable pins only. (cow-history.md O16, the gup_longterm.c matrix; check_vma_flags and gup_must_unshare read
in the 7.1.5 tree.)
"""

from modelcheck import Spec
from modelcheck.cow import CowWorld

SPEC = Spec(
    id="GL-shared-ro-file",
    title="gup_longterm.c: shared R/O pin of a disk file",
    world=lambda: CowWorld.scripted({
        "parent": ["store a0", "mprotect_ro a0", "pin_ro a0 -> pin"],
    }, file="disk", maps={"a0": "shared"}),
    invariants=["allowed_pin_not_refused", "no_longterm_pin_of_dirty_tracked_file", "pin_coherent",
                "refcount_sane"],
    mirrors=[("gup_longterm.c", "test_shared_ro_pin", "tmpfile"),
             ("gup_longterm.c", "test_shared_ro_pin", "local-tmpfile")],
)
