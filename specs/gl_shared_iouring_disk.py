"""GL-shared-iouring-file (gup_longterm.c's test_shared_iouring on tmpfile and local-tmpfile): a long-term
writable pin of a MAP_SHARED file mapping.

The selftest ftruncates and fallocates one page of a disk file: the selftest's local tmpfile (an unlinked file in
the current directory) and its tmpfile() (in the temporary directory), both on ext4 on this project's machines
(with the temporary directory on tmpfs, tmpfile() would be GL-shared-iouring-memfd's case; the selftest checks the
file system and expects accordingly, so it passes on a correct kernel either way), maps it MAP_SHARED read-write;
the page is written (memset), then registered as an io_uring fixed buffer (io_uring_register_buffers:
FOLL_WRITE|FOLL_PIN|FOLL_LONGTERM) and unregistered. Here a0 is that mapping of a disk file, and the pin is the
last step (a refused one takes no reference; the selftest then reports its verdict).

Every era agrees with the selftest, each for its own reason (cow-after-2022.md P17): before 6.5 io_uring
refuses every file-backed buffer itself (-EOPNOTSUPP, which the selftest accepts), and from 6.5 io_uring
leaves the check to GUP (edd478269640), whose check_vma_flags refuses a long-term writable pin of a shared
mapping that needs dirty tracking (8ac268436e6d, -EFAULT). No era holds the pin
(no_longterm_pin_of_dirty_tracked_file), and a refusal is what the file system asks (allowed_pin_not_refused).
"""

from modelcheck import Spec
from modelcheck.cow import CowWorld

SPEC = Spec(
    id="GL-shared-iouring-file",
    title="gup_longterm.c: shared io_uring fixed buffer of a disk file",
    world=lambda: CowWorld.scripted({
        "parent": ["store a0", "iouring_register a0 -> buf"],
    }, file="disk", maps={"a0": "shared"}),
    invariants=["allowed_pin_not_refused", "no_longterm_pin_of_dirty_tracked_file", "pin_coherent",
                "refcount_sane"],
    mirrors=[("gup_longterm.c", "test_shared_iouring", "tmpfile"),
             ("gup_longterm.c", "test_shared_iouring", "local-tmpfile")],
)
