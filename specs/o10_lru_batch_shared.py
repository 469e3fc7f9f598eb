"""O10 (LRU batch, shared): a page still in the LRU batch, shared by a second fork, is written.

After the first fork the parent's write copies into a fresh page, which sits in
the per-CPU LRU batch (a reference) until drained; a second fork shares that
page with child2 (refcount 3: two mappings and the batch) and the parent
writes it again, which must copy. v5.18 (d4c470970d45) drains the local batch
first whenever the refcount is at most 3, and copies after all; mainline
(8d596d8b81ef) gives up at once above 1 + batch + swap cache, so it copies
without draining (cow-after-2022 P27). The drain cannot make a page shared with
another process reusable: neither rule copies spuriously here. They differ in
where the drain happens: under mainline the batch keeps its reference past the
parent's copy, and child2's write fault, now alone on the page, drains it then
and reuses (``lru_drain+reuse``), where v5.18 had drained at the parent's fault
(``lru_drain+copy``) and child2 reuses without one.
"""

from modelcheck import Spec
from modelcheck.cow import CowWorld

SPEC = Spec(
    id="O10-lru-shared",
    title="LRU-batch page shared by a second fork: the drain before a copy",
    world=lambda: CowWorld.scripted({
        "parent": ["fork", "store a0", "fork", "store a0"],
        "child2": ["store a0"],
    }, events=["lru"]),
    invariants=["no_spurious_copy", "no_leak_to_child"],
    expect={
        "refcount_5_18": "holds",  # d4c470970d45: the drain before deciding removes the batch's reference
        "mainline_7_3": "holds",   # P27: the early bail-out skips only a drain after which it copies anyway
    },
)
