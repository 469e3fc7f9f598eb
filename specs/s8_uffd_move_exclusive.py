"""S8-exclusive: UFFDIO_MOVE of an exclusive page, what the ioctl is for (cow-after-2022 P21).

The parent's page at a0 is its own (PageAnonExclusive, mapped once, unpinned); UFFDIO_MOVE moves it to the
empty, registered a1, as a compacting garbage collector does. The parent then reads a1 and a0 and writes a1: a1
must show what a0 held, a0 (now an empty PTE in its VMA) reads zeros, and the write at a1 lands in the moved
page, which stays exclusive and is reused without a copy (no_spurious_copy).

* Before v6.8 the ioctl fails (EINVAL): a1 is faulted in fresh (zeros) and a0 keeps its page. What a program then
  reads is what that kernel gives, so every invariant holds there too; only the branches differ.
* uffd_move_6_8 and mainline_7_3 (adef440691ba): the page moves, mapped writable and dirty at a1 (pte_mkwrite,
  pte_mkdirty in move_present_ptes).
"""

from modelcheck import Spec
from modelcheck.cow import CowWorld

SPEC = Spec(
    id="S8-exclusive",
    title="UFFDIO_MOVE of an exclusive page",
    world=lambda: CowWorld.scripted({
        "parent": ["store a0", "uffd_move a0 a1", "load a1", "load a0", "store a1", "load a1"],
    }, fresh=["a1"]),
    invariants=["no_lost_write", "no_spurious_copy", "refcount_sane"],
)
