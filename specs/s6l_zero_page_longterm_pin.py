"""S6-longterm: a long-term R/O pin of the shared zero page (gup_test's R/O pin, VFIO's mapping of a buffer the
device only reads).

As S6 with FOLL_LONGTERM. The same count is raised, until two commits take it away in turn: from v6.2 a
R/O long-term pin in a COW mapping unshares whatever is not an exclusive anonymous page (84209e87c696), so
it pins a fresh copy, never the zero page (which VFIO had leaked references to until 873aefb376bbc0 unpinned
them itself); from v6.5 no pin of the zero page takes a reference anyway (c8070b787519).

* to v5.19 (``gup_cow_break`` aside, whose forced break copies first): violated.
* ``anon_exclusive_6_2`` on: holds.
"""

from modelcheck import Spec
from modelcheck.cow import CowWorld, changed_in

SPEC = Spec(
    id="S6-longterm",
    title="a long-term R/O pin of the shared zero page counts in its refcount before 6.2",
    world=lambda: CowWorld.scripted({
        "parent": ["load a0", "pin_ro a0 -> pin", "dma_read pin", "put pin"],
    }, fresh=["a0"]),
    invariants=["zero_page_pins_bounded", "pin_coherent", "refcount_sane"],
    expect=changed_in("anon_exclusive_6_2") | {
        "gup_cow_break": "holds",
        "andrea_cor": "violated", "jason_2020": "violated", "page_count_refuse_wrprotect": "violated",
    },
)
