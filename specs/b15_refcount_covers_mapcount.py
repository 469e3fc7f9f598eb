"""B15 (cow-after-2022.md; 1da190f4d0a6): a large folio's refcount covers its large mapcount at every step.

6.15's reuse of a PTE-mapped large folio takes "large mapcount == refcount" for "every reference is a
mapping of this MM", which holds only if no one maps the folio without holding a reference: the commit
states the contract (a reference is taken before a mapping and dropped after it). Here the parent's THP
(two pages) is shared by two forks; the parent splits its PMD (mprotect() of a1) and writes a0 while both
children unmap the THP, munmap dropping a PMD's large mapcount, its entire mapcount and (at the TLB flush)
its reference one step at a time, with a speculative reference coming and going. The invariant is checked
in every state between any two steps; a kernel that dropped the reference first is caught by it (and, from
v6.15, by the reuse check's own assertions: tests/test_large_reuse.py).

* every policy: holds (the spec states no expectation, so it expects every one to): before v6.15 munmap
  drops a PMD's counters at once, from v6.15 one at a time in the kernel's order.
"""

from modelcheck import Spec
from modelcheck.cow import CowWorld

SPEC = Spec(
    id="B15-refcount-covers-mapcount",
    title="the mapcount/refcount ordering contract of large folios, at every step",
    world=lambda pages, S: CowWorld.scripted({
        "parent": ["fork", "fork", "mprotect_ro a1", "store a0"],
        "child1": ["munmap_thp a0"],
        "child2": ["munmap_thp a0"],
    }, thp=pages, events=["spec"], speculative=S),
    params={"pages": 2, "S": 1},
    ladder=[{}, {"pages": 3}, {"pages": 4, "S": 2}],
    mirrors=[],
    invariants=["refcount_covers_mapcount", "refcount_sane", "large_folio_exclusive_when_writable"],
)
