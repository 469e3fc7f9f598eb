"""C17-tmpfile (cow.c's test_cow on tmpfile()): as C17-memfd, with the file on a disk file system.

tmpfile() makes an unlinked file in the temporary directory; on this project's machines the temporary directory is
on ext4, a file system that tracks dirty pages, so the world's file is a "disk" one (on a machine whose temporary
directory is a tmpfs the case is C17-memfd's, with the same verdicts). The steps are C17-memfd's: one page
fallocated, mapped MAP_PRIVATE (a0) and MAP_SHARED read-only (a1), both read, a0 written, a1 read again. Dirty
tracking plays no part: the private mapping never writes the file, and the store's write fault on the page-cache
page copies it (wp_page_copy) in every era, so every invariant holds everywhere (cow-history.md C17)."""

from modelcheck import Spec
from modelcheck.cow import CowWorld

ALL_HOLD = {policy: "holds" for policy in (
    "mapcount", "gup_cow_break", "page_count", "page_count_fork_copy", "refcount_5_18", "anon_exclusive",
    "anon_exclusive_6_2", "odirect_pins_6_5", "uffd_wp_async_6_7", "mainline_7_3", "andrea_cor", "jason_2020",
    "page_count_refuse_wrprotect")}

SPEC = Spec(
    id="C17-tmpfile",
    title="private mapping of a disk file: a write copies, the file keeps its contents",
    world=lambda: CowWorld.scripted({
        "parent": ["load a0", "load a1", "store a0", "load a1", "load a0"],
    }, file="disk", maps={"a0": "private", "a1": "shared"}),
    invariants=["private_write_stays_private", "no_lost_write", "no_spurious_copy", "refcount_sane"],
    expect=ALL_HOLD,  # cow-history.md C17
    mirrors=[("cow.c", "test_cow", "tmpfile")],
)
