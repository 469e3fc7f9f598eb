"""C18-zero (cow.c's test_ro_pin on the shared zeropage): a R/O long-term pin of the shared zero page must
see the owner's later write.

The selftest maps an anonymous private page and reads it (the shared zero page goes in), takes a R/O
long-term pin through gup_test (PIN_LONGTERM_TEST_START, not GUP-fast), fills the page with 0xff and reads
it back through the pin (PIN_LONGTERM_TEST_READ): the pin must see the 0xff. Here the parent loads the
untouched a0, pins it R/O long-term, stores and has the device read through the pin (pin_coherent: the pin
and the PTE reach the same page; no_lost_write: the device sees the store).

By era (cow-history.md C18 and P9, read in the 7.1.5 tree's gup_must_unshare):
* 5.8 (gup_cow_break): every GUP in a COW mapping breaks COW first (17839856fd58), so the pin's write fault
  replaces the zero page by a fresh page of the owner's, which the store reuses: holds.
* Every other era before 6.2: the zero page is no anonymous page; 5.19's unsharing of R/O pins
  (a7f226604170) and Andrea's copy-on-read look at anonymous pages only, so the pin takes the zero page as
  mapped and the store's write fault maps a fresh page: the pin reads zeros, violated.
* 6.2 on (84209e87c696 with 8d6a0ac09a16): a R/O FOLL_LONGTERM pin in a COW mapping unshares anything that
  is not an exclusive anonymous page, so the zero page is replaced by an exclusive anonymous copy first,
  mapped R/O, and the store's write fault reuses it: holds. (6.5's c8070b787519, no reference on a pinned
  zero page, changes nothing here: the pin never reaches the zero page any more.)
"""

from modelcheck import Spec
from modelcheck.cow import CowWorld, changed_in

SPEC = Spec(
    id="C18-zero",
    title="R/O long-term pin of the shared zero page in a private mapping, then a write",
    world=lambda: CowWorld.scripted({
        "parent": ["load a0", "pin_ro a0 -> pin", "store a0", "dma_read pin", "put pin"],
    }, fresh=["a0"]),
    invariants=["pin_coherent", "no_lost_write", "refcount_sane"],
    # mapcount: the pin takes the zero page as mapped (no unsharing before 5.19)
    # page_count: a308c71bf1e6 reverts the forced break
    # anon_exclusive: a7f226604170 unshares anonymous pages only
    # anon_exclusive_6_2: 84209e87c696: R/O long-term pins unshare non-anon pages in COW mappings
    expect=changed_in("anon_exclusive_6_2") | {
        "gup_cow_break": "holds",  # 17839856fd58: the forced COW break replaces the zero page first
        "andrea_cor": "violated",  # copy-on-read of anonymous pages mapped more than once only
        "jason_2020": "violated",
        "page_count_refuse_wrprotect": "violated",
    },
    mirrors=[("cow.c", "test_ro_pin", "zeropage")],
)
