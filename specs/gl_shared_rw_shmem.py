"""GL-shared-rw-memfd (gup_longterm.c's test_shared_rw_pin on memfd): a long-term writable pin of a MAP_SHARED
file mapping.

The selftest ftruncates and fallocates one page of a memfd (shmem: tmpfs, which gup_longterm.c knows as
supporting writable long-term pins), maps it MAP_SHARED read-write; the page is written (memset), then pinned
long-term and writable through gup_test (PIN_LONGTERM_TEST_START with PIN_LONGTERM_TEST_FLAG_USE_WRITE, not
GUP-fast) and unpinned. Here a0 is that mapping of a shmem file, and the pin is the last step (a refused one
takes no reference; the selftest then reports its verdict).

The pin must work in every era, and does: shmem needs no dirty tracking, so no era refuses the writable long-
term pin (6.5's 8ac268436e6d allows it), and the PTE is already writable after the write. (cow-history.md O16,
the gup_longterm.c matrix; check_vma_flags and gup_must_unshare read in the 7.1.5 tree.)
"""

from modelcheck import Spec
from modelcheck.cow import CowWorld

SPEC = Spec(
    id="GL-shared-rw-memfd",
    title="gup_longterm.c: shared R/W pin of a shmem file",
    world=lambda: CowWorld.scripted({
        "parent": ["store a0", "pin_rw a0 -> pin"],
    }, file="shmem", maps={"a0": "shared"}),
    invariants=["allowed_pin_not_refused", "no_longterm_pin_of_dirty_tracked_file", "pin_coherent",
                "refcount_sane"],
    mirrors=[("gup_longterm.c", "test_shared_rw_pin", "memfd")],
)
