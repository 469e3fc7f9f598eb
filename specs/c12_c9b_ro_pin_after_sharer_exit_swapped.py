"""C12-C9b: C9b on a swapped-out page (cow.c's test_ro_pin_on_ro_previously_shared "with swapped-out base page").

Paged out before fork; the child signals, waits for the parent's word and
exits, which frees its swap entry; the parent waits for it, takes its R/O
long-term pin (a read swap-in: the page is mapped once and its slot named by
no one else) and writes. The verdicts are C9b's, for C9b's reasons: the
mapcount rule (plus the swap count, now 0) reuses; the refcount rules up to
v5.18 copy away from the pin; FAULT_FLAG_UNSHARE (v5.19) marks the page
exclusive before the pin, and the write reuses it.
"""

from modelcheck import Spec
from modelcheck.cow import CowWorld

SPEC = Spec(
    id="C12-C9b",
    title="R/O GUP pin on R/O-mapped previously-shared page, page swapped out first",
    world=lambda: CowWorld.scripted({
        "parent": ["pageout a0", "fork", "await child_ready", "signal parent_ready", "wait child1",
                   "pin_ro a0 -> pin", "store a0", "dma_read pin"],
        "child1": ["signal child_ready", "await parent_ready", "exit"],
    }),
    mirrors=[("cow.c", "test_ro_pin_on_ro_previously_shared", "base-page-swapped")],
    invariants=["pin_coherent", "no_lost_write"],
    expect={
        "mapcount": "holds",
        "gup_cow_break": "holds",
        "page_count": "violated",
        "page_count_fork_copy": "violated",
        "refcount_5_18": "violated",
        "anon_exclusive": "holds",
        "anon_exclusive_6_2": "holds",
        "mainline_7_3": "holds",
        "andrea_cor": "holds",
        "jason_2020": "holds",
    },
)
