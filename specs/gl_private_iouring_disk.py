"""GL-private-iouring-file (gup_longterm.c's test_private_iouring on tmpfile and local-tmpfile): a long-term
writable pin of a MAP_PRIVATE file mapping.

The selftest ftruncates and fallocates one page of a disk file: the selftest's local tmpfile (an unlinked file in
the current directory) and its tmpfile() (in the temporary directory), both on ext4 on this project's machines
(with the temporary directory on tmpfs, tmpfile() would be GL-private-iouring-memfd's case; the selftest checks the
file system and expects accordingly, so it passes on a correct kernel either way), maps it MAP_PRIVATE read-write;
the page is written (memset), then registered as an io_uring fixed buffer (io_uring_register_buffers:
FOLL_WRITE|FOLL_PIN|FOLL_LONGTERM) and unregistered. Here a0 is that mapping of a disk file, and the pin is the
last step (a refused one takes no reference; the selftest then reports its verdict).

The registration must work (a private mapping's buffer is anonymous memory after the write). Before 6.5
io_uring refuses every file-backed VMA but hugetlbfs itself, after pinning (-EOPNOTSUPP: the selftest's "only
new kernels return EFAULT" and its "should have worked" failure), whatever the mapping: violated
(allowed_pin_not_refused) in every era before odirect_pins_6_5. From 6.5 io_uring leaves the check to GUP
(edd478269640), which allows it: holds.
"""

from modelcheck import Spec
from modelcheck.cow import CowWorld, changed_in

SPEC = Spec(
    id="GL-private-iouring-file",
    title="gup_longterm.c: private io_uring fixed buffer of a disk file",
    world=lambda: CowWorld.scripted({
        "parent": ["store a0", "iouring_register a0 -> buf"],
    }, file="disk", maps={"a0": "private"}),
    invariants=["allowed_pin_not_refused", "no_longterm_pin_of_dirty_tracked_file", "pin_coherent",
                "refcount_sane"],
    expect=changed_in("odirect_pins_6_5") | {
        "andrea_cor": "violated",
        "jason_2020": "violated",
        "page_count_refuse_wrprotect": "violated",
    },
    mirrors=[("gup_longterm.c", "test_private_iouring", "tmpfile"),
             ("gup_longterm.c", "test_private_iouring", "local-tmpfile")],
)
