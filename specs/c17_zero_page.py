"""C17 (the shared zero page, tools/testing/selftests/mm/cow.c's "Basic COW" with the shared zeropage): read
faults map the zero page, a write fault replaces it, and fork shares it.

As cow.c's test_cow on the zeropage kind, two untouched addresses are read, so
both map the one zero page, and a write through the first must not show
through the second (no_lost_write: a1 still reads its own contents, zeros).

The parent's first access to the untouched address is a load: do_anonymous_page
maps the shared zero page read-only (a special PTE: no anonymous page, no
mapcount, no reference). Its fork copies that PTE as it is (vm_normal_page
finds no page to share). The parent's store write-faults on the zero page:
do_wp_page finds no anonymous page and goes to wp_page_copy, whose zero-page
case maps a fresh zero-filled page, exclusive; the zero page is never reused,
under every rule (no LRU batch here: whether the new page sits in one changes
no verdict of this scenario, and without one the C reproducer runs it live). The child reads zeros before and
after, and its own store gets a page of its own the same way. Every era gets
this right (cow-history.md C17, the zero-page row of cow.c's non-anonymous
tests; the zero-page branch of wp_page_copy predates every era modelled here):
no leak either way, no spurious copy (a copy of the zero page is no spurious
copy: it is never reusable), refcounts sane.
"""

from modelcheck import Spec
from modelcheck.cow import CowWorld

ALL_HOLD = {policy: "holds" for policy in (
    "mapcount", "gup_cow_break", "page_count", "page_count_fork_copy", "refcount_5_18", "anon_exclusive",
    "anon_exclusive_6_2", "odirect_pins_6_5", "uffd_wp_async_6_7", "mainline_7_3", "andrea_cor", "jason_2020",
    "page_count_refuse_wrprotect")}

SPEC = Spec(
    id="C17-zero",
    title="shared zero page: read fault, fork, write fault",
    world=lambda: CowWorld.scripted({
        "parent": ["load a0", "load a1", "fork", "store a0", "load a1", "load a0"],
        "child1": ["load a0", "store a0", "load a0"],
    }, fresh=["a0", "a1"]),
    invariants=["no_leak_to_child", "no_leak_to_parent", "no_lost_write", "no_spurious_copy", "refcount_sane"],
    expect=ALL_HOLD,  # cow-history.md C17: the zero page is never reused, in every era
    mirrors=[("cow.c", "test_cow", "zeropage")],
)
