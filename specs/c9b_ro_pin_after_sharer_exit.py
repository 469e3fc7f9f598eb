"""C9b: R/O long-term GUP pin on a R/O-mapped previously-shared page (cow.c).

cow.c's "R/O GUP pin on R/O-mapped previously-shared page" (S29,
RO_PIN_TEST_PREVIOUSLY_SHARED, in cow.c's own order): the parent forks, so the
page is shared with the child and mapped read-only in both; the child says it
is ready, waits for the parent's word and exits; the parent waits for it
(wait()), so when it takes its R/O long-term pin the page is still mapped
read-only but mapped once. Then it writes, and the pin must see the write.

How it differs from C9 (c9_ro_pin_shared.py): there the child is alive while
the parent pins and writes (mapcount 2), and a scenario without ``wait`` could
only let the child's exit race the pin. Here the order is the selftest's: the
exit is done before the pin, and the verdicts of the mapcount era differ.

Per era, from each era's rule (the model's policies derive the same):

* mapcount (up to v5.7: reuse when mapcount + swap count <= 1, whatever the
  refcount): the child's exit left the page mapped once; the pin takes a
  reference the rule ignores and the write fault reuses the page, so the pin
  stays coherent: holds. (In C9 the living child makes the mapcount 2: a
  copy, violated: that is C9's other reason.)
* gup_cow_break (17839856fd58, v5.8, S16): the read GUP breaks COW first: a
  write fault on a page mapped once, reused; holds.
* page_count (09854ba94c6a, v5.9, S17) and its v5.9-v5.18 followers: the pin
  adds GUP_PIN_COUNTING_BIAS to the refcount and nothing unshares before a
  R/O pin, so the write fault copies and the pin keeps the old page (S1 point
  2, as in C11): violated. page_count_fork_copy (to v5.17) copies a
  maybe-pinned page at fork, which protects a pin taken before the fork only
  (S20), and refcount_5_18 (53a05ad9f21d, S10) still copies a page referenced
  more than once plus the swap cache's reference: violated as well.
  (page_count_refuse_wrprotect, a design of S1 on top of them: violated in
  the model, stated nowhere.)
* anon_exclusive (v5.19, P7, S13): fork cleared PG_anon_exclusive and the
  exit does not set it again; the R/O pin of a non-exclusive anonymous page
  triggers FAULT_FLAG_UNSHARE, which finds the page referenced once (its one
  mapping) and reuses it, marking it exclusive; the write then reuses it: holds.
  v6.2 (84209e87c696, S27) keeps this for anonymous pages: holds.
* andrea_cor (copy-on-read, S34): the read pin unshares first: holds.
* jason_2020 (S35): a maybe-pinned page mapped once is reused on its
  mapcount; Peter Xu's objection in that thread was that this works after fork
  only once the child has gone, which is this case: holds (C9, with the child
  alive: violated).
"""

from modelcheck import Spec
from modelcheck.cow import CowWorld

SPEC = Spec(
    id="C9b",
    title="R/O GUP pin on R/O-mapped previously-shared page",
    world=lambda: CowWorld.scripted({
        "parent": ["fork", "await child_ready", "signal parent_ready", "wait child1", "pin_ro a0 -> pin",
                   "store a0", "dma_read pin"],
        "child1": ["signal child_ready", "await parent_ready", "exit"],
    }),
    mirrors=[("cow.c", "test_ro_pin_on_ro_previously_shared", "base-page")],
    invariants=["pin_coherent", "no_lost_write"],
    expect={
        "mapcount": "holds",        # reuse_swap_page(): mapped once after the exit
        "gup_cow_break": "holds",   # 17839856fd58 (S16): the read GUP breaks COW first
        "page_count": "violated",   # the pin's bias makes the write fault copy (S1 point 2)
        "page_count_fork_copy": "violated",  # its fork copy protects pins taken before fork only (S20)
        "refcount_5_18": "violated",  # 53a05ad9f21d still copies a page referenced more than once (S10)
        "anon_exclusive": "holds",  # FAULT_FLAG_UNSHARE reuses the page referenced once (S13)
        "anon_exclusive_6_2": "holds",  # 84209e87c696 (S27)
        "odirect_pins_6_5": "holds",    # as anon_exclusive_6_2: its pieces change O_DIRECT, async uffd-wp and
        "uffd_wp_async_6_7": "holds",   # the LRU drain, not the R/O pin's unshare or the write fault on an
        "uffd_move_6_8": "holds",  # as uffd_wp_async_6_7 (UFFDIO_MOVE is not used here)
        "mainline_7_3": "holds",        # exclusive page
        "andrea_cor": "holds",      # copy-on-read (S34)
        "jason_2020": "holds",      # the mapcount fallback "once the child has gone" (S35)
    },
)
