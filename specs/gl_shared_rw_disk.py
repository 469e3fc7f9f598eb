"""GL-shared-rw-file (gup_longterm.c's test_shared_rw_pin on tmpfile and local-tmpfile): a long-term writable pin
of a MAP_SHARED file mapping.

The selftest ftruncates and fallocates one page of a disk file: the selftest's local tmpfile (an unlinked file in
the current directory) and its tmpfile() (in the temporary directory), both on ext4 on this project's machines
(with the temporary directory on tmpfs, tmpfile() would be GL-shared-rw-memfd's case; the selftest checks the file
system and expects accordingly, so it passes on a correct kernel either way), maps it MAP_SHARED read-write; the
page is written (memset), then pinned long-term and writable through gup_test (PIN_LONGTERM_TEST_START with
PIN_LONGTERM_TEST_FLAG_USE_WRITE, not GUP-fast) and unpinned. Here a0 is that mapping of a disk file, and the pin
is the last step (a refused one takes no reference; the selftest then reports its verdict).

The selftest expects the pin refused (-EFAULT) on ext4, xfs and btrfs: a device writing through a long-term
pin bypasses the file system's write notification. Before 6.5 GUP allows it, and the pin is held on the page-
cache page (no_longterm_pin_of_dirty_tracked_file violated). From 6.5 check_vma_flags refuses it
(8ac268436e6d, writable_file_mapping_allowed): holds.
"""

from modelcheck import Spec
from modelcheck.cow import CowWorld, changed_in

SPEC = Spec(
    id="GL-shared-rw-file",
    title="gup_longterm.c: shared R/W pin of a disk file",
    world=lambda: CowWorld.scripted({
        "parent": ["store a0", "pin_rw a0 -> pin"],
    }, file="disk", maps={"a0": "shared"}),
    invariants=["allowed_pin_not_refused", "no_longterm_pin_of_dirty_tracked_file", "pin_coherent",
                "refcount_sane"],
    expect=changed_in("odirect_pins_6_5") | {
        "andrea_cor": "violated",
        "jason_2020": "violated",
        "page_count_refuse_wrprotect": "violated",
    },
    mirrors=[("gup_longterm.c", "test_shared_rw_pin", "tmpfile"),
             ("gup_longterm.c", "test_shared_rw_pin", "local-tmpfile")],
)
