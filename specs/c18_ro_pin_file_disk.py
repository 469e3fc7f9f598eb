"""C18-tmpfile (cow.c's test_ro_pin on tmpfile): a R/O long-term pin of a page-cache page in a private mapping
must see the owner's later write.

The selftest maps one fallocated page of a tmpfile() on a disk file system MAP_PRIVATE (mem) and MAP_SHARED
read-only (smem), reads both (both map the page-cache page), takes a R/O long-term pin of mem through gup_test (not
GUP-fast), fills mem with 0xff and reads back through the pin: it must see the 0xff. Here a0 is the private
mapping, a1 the shared one; the device reads through the pin after the store (pin_coherent, no_lost_write), and the
file must keep its contents (private_write_stays_private).

tmpfile() is on ext4 on this project's machines, so the file is a "disk" one (with the temporary directory on tmpfs
the case is C18-memfd's, with the same verdicts: dirty tracking plays no part in a private mapping).

By era (cow-history.md C18 and P9; gup_must_unshare and do_wp_page read in the 7.1.5 tree):
* 5.8 (gup_cow_break): the forced COW break of 17839856fd58 write-faults the private mapping first, so the
  pin holds an anonymous copy of the owner's, which the store then writes: holds.
* Every other era before 6.2: only anonymous pages are unshared (a7f226604170 in 5.19, Andrea's copy-on-read),
  so the pin holds the page-cache page and the store's write fault copies away from it (wp_page_copy): the
  pin reads the file's old contents, violated.
* 6.2 on (84209e87c696 with 8d6a0ac09a16): a R/O FOLL_LONGTERM pin in a COW mapping unshares the page-cache
  page into an exclusive anonymous copy, mapped R/O; the store reuses that copy: holds.
"""

from modelcheck import Spec
from modelcheck.cow import CowWorld, changed_in

SPEC = Spec(
    id="C18-tmpfile",
    title="R/O long-term pin of a page-cache page in a private mapping (disk file), then a write",
    world=lambda: CowWorld.scripted({
        "parent": ["load a0", "load a1", "pin_ro a0 -> pin", "store a0", "dma_read pin", "put pin", "load a1"],
    }, file="disk", maps={"a0": "private", "a1": "shared"}),
    invariants=["pin_coherent", "no_lost_write", "private_write_stays_private", "refcount_sane"],
    # mapcount: the pin takes the page-cache page as mapped
    # page_count: a308c71bf1e6 reverts the forced break
    # anon_exclusive: a7f226604170 unshares anonymous pages only
    # anon_exclusive_6_2: 84209e87c696: R/O long-term pins unshare non-anon pages in COW mappings
    expect=changed_in("anon_exclusive_6_2") | {
        "gup_cow_break": "holds",  # 17839856fd58: the forced COW break copies it first
        "andrea_cor": "violated",  # copy-on-read of anonymous pages only
        "jason_2020": "violated",
        "page_count_refuse_wrprotect": "violated",
    },
    mirrors=[("cow.c", "test_ro_pin", "tmpfile")],
)
