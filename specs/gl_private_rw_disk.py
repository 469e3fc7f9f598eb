"""GL-private-rw-file (gup_longterm.c's test_private_rw_pin on tmpfile and local-tmpfile): a long-term writable
pin of a MAP_PRIVATE file mapping.

The selftest ftruncates and fallocates one page of a disk file: the selftest's local tmpfile (an unlinked file in
the current directory) and its tmpfile() (in the temporary directory), both on ext4 on this project's machines
(with the temporary directory on tmpfs, tmpfile() would be GL-private-rw-memfd's case; the selftest checks the file
system and expects accordingly, so it passes on a correct kernel either way), maps it MAP_PRIVATE read-write; the
page is written (memset), then pinned long-term and writable through gup_test (PIN_LONGTERM_TEST_START with
PIN_LONGTERM_TEST_FLAG_USE_WRITE, not GUP-fast) and unpinned. Here a0 is that mapping of a disk file, and the pin
is the last step (a refused one takes no reference; the selftest then reports its verdict).

The pin must work in every era, and does: the write faulted an anonymous copy in (do_cow_fault), so the pin is
of an exclusive anonymous page of a private mapping, which no era refuses; its PTE is writable, so GUP takes
it as mapped. (cow-history.md O16, the gup_longterm.c matrix; check_vma_flags read in the 7.1.5 tree.)
"""

from modelcheck import Spec
from modelcheck.cow import CowWorld

SPEC = Spec(
    id="GL-private-rw-file",
    title="gup_longterm.c: private R/W pin of a disk file",
    world=lambda: CowWorld.scripted({
        "parent": ["store a0", "pin_rw a0 -> pin"],
    }, file="disk", maps={"a0": "private"}),
    invariants=["allowed_pin_not_refused", "no_longterm_pin_of_dirty_tracked_file", "pin_coherent",
                "refcount_sane"],
    mirrors=[("gup_longterm.c", "test_private_rw_pin", "tmpfile"),
             ("gup_longterm.c", "test_private_rw_pin", "local-tmpfile")],
)
