"""``per_vma_lock_6_4``: v6.4, page faults under the per-VMA lock, and fork not yet excluding them.

0bff0aaea03e ("x86/mm: try VMA lock-based page fault handling first", v6.4, with the rest of Suren
Baghdasaryan's per-VMA lock series; CONFIG_PER_VMA_LOCK is on wherever the architecture supports it) lets a
page fault on an anonymous VMA that already has an anon_vma take that VMA's read lock instead of mmap_lock.
fork still only takes mmap_lock for writing: dup_mmap write-protects the parent's PTEs of COW-shared pages
(copy_present_pte) and flushes the parent's TLB once, at its end (flush_tlb_mm before mmap_write_unlock).
Until then another CPU of the parent may still hold a writable TLB entry. Before 6.4 no fault of the parent
could run in that window; now a write fault in another thread of the parent copies the page (COW-shared with
the child), and a store through the stale entry lands in the old page after the copy was taken and is lost to
the parent (the child sees it): the memory corruption of bugzilla 217624 (Jiri Slaby, Holger Hoffstaetter,
Jacob Young), fixed by fb49c455323f in v6.5 (``odirect_pins_6_5``) and, in 6.4.y, first by disabling
CONFIG_PER_VMA_LOCK (11eaf9aa0699), so the bug is in v6.4 to v6.4.2 [I: the stable release numbers]. Releases
map to policies by major and minor number: a later 6.4.y, which has the lock disabled or the fix, is modelled
by this policy too, and gets B3 wrong.

The mechanism is the one the fix's description in the mm tree gives (Suggested-by David Hildenbrand): the
parent's stale writable TLB entries. The mainline commit fb49c455323f carries an earlier text (anon_vma_fork
skipped for a VMA without an anon_vma, then a fault running anon_vma_prepare before copy_page_range copies
a PTE): in 6.4 lock_vma_under_rcu gives up on an anonymous VMA without an anon_vma (falling back to mmap_lock,
which fork holds), so that path needs no per-VMA-lock fault; the world models the TLB one.
"""

from modelcheck.cow.policies.anon_exclusive_6_2 import AnonExclusive62Policy
from modelcheck.cow.policies.mapcount import Pre2020Rule
from modelcheck.cow.policies.pieces import commit, era


@commit("0bff0aaea03e", "x86/mm: try VMA lock-based page fault handling first", "v6.4",
        "a page fault holds only its VMA's lock, so it can run while fork copies the page tables")
class FaultsUnderVmaLock(Pre2020Rule):
    """A fault of the parent no longer waits for fork's mmap_lock: between fork's copy of the PTEs and its TLB
    flush another thread's write fault may copy a page that a stale writable TLB entry still reaches."""

    faults_under_vma_lock = True


PerVmaLock64Policy = era("per_vma_lock_6_4", "v6.4", AnonExclusive62Policy, [FaultsUnderVmaLock],
                         summary="anon_exclusive_6_2 with page faults under the per-VMA lock, which fork does not "
                                 "take")
POLICY = PerVmaLock64Policy()
