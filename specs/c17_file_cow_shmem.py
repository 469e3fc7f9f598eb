"""C17-memfd (cow.c's test_cow on memfd): a write through a private mapping of a shmem file must not reach the
file.

The selftest fallocates one page of a memfd, maps it twice (MAP_PRIVATE read-write as mem, MAP_SHARED
read-only as smem), reads both so both map the page-cache page, saves smem's contents, fills mem with 0xff
and checks that smem still reads what it saved. Here a0 is the private mapping, a1 the shared one, of one
shmem file; the loads fault the page in (do_read_fault: the page-cache page, read-only in the private
mapping), the store write-faults (do_wp_page finds no anonymous page in a private mapping and goes to
wp_page_copy: a fresh anonymous exclusive copy, never the page-cache page), and a1 reads the file again.

Every era gets this right: only an anonymous page is ever considered for reuse, in every rule modelled here
(cow-history.md C17, the memfd row of cow.c's non-anonymous tests), so the file keeps its contents
(private_write_stays_private), a1 still reads the initial contents (no_lost_write), and the copy is no
spurious one (the page cache holds the old page).
"""

from modelcheck import Spec
from modelcheck.cow import CowWorld

ALL_HOLD = {policy: "holds" for policy in (
    "mapcount", "gup_cow_break", "page_count", "page_count_fork_copy", "refcount_5_18", "anon_exclusive",
    "anon_exclusive_6_2", "odirect_pins_6_5", "uffd_wp_async_6_7", "mainline_7_3", "andrea_cor", "jason_2020",
    "page_count_refuse_wrprotect")}

SPEC = Spec(
    id="C17-memfd",
    title="private mapping of a memfd: a write copies, the file keeps its contents",
    world=lambda: CowWorld.scripted({
        "parent": ["load a0", "load a1", "store a0", "load a1", "load a0"],
    }, file="shmem", maps={"a0": "private", "a1": "shared"}),
    invariants=["private_write_stays_private", "no_lost_write", "no_spurious_copy", "refcount_sane"],
    expect=ALL_HOLD,  # cow-history.md C17: a page that is not anonymous is always copied in a private mapping
    mirrors=[("cow.c", "test_cow", "memfd")],
)
