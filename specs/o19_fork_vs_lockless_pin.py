"""O19 (cow-history.md): fork racing a GUP-fast pin on another thread of the parent (57efa1fe5957, S25).

parent.2 pins a0 with pin_user_pages_fast (FOLL_WRITE|FOLL_LONGTERM, as RDMA's ib_umem_get does) while
parent forks. GUP-fast takes no lock: it reads the PTE, pins the page and reads the PTE again. fork's
copy_present_pte first decides whether the page may be pinned (70e806e4e645: if so the child gets a copy)
and then write-protects the parent's PTE to share the page. A pin taken between the two is seen by neither:
the decision found the page unpinned, and GUP-fast's second look found the PTE still writable. The page is
then shared read-only with the child while pinned; the parent's next store write-faults, the page's extra
references make the fault copy, and the pin is left on the child's page (pin_coherent; the parent's DMA
read misses its store, no_lost_write).

* before 70e806e4e645 (every policy to ``page_count``, and ``jason_2020``): fork shares a page pinned
  before it, race or no race (the RDMA fork problem that MADV_DONTFORK worked around): violated;
* ``page_count_early_cow`` (v5.9, v5.10): fork copies a pinned page, but only one it sees pinned: the
  race above, violated (found by breadth-first search in 7 steps);
* ``andrea_cor`` is built on the same tree (v5.9/v5.10 with 70e806e4e645) without 57efa1fe5957: violated;
* 57efa1fe5957 (v5.11) on: fork holds mm->write_protect_seq odd while it copies; GUP-fast does not walk
  while it is odd, and drops its pin if it changed since the walk began, falling back to the slow path,
  which waits for fork's mmap_lock: holds.

The pin is taken once parent.2 is done; the parent stores after it (a token orders them), so every order of
the pin against fork's steps is tried, before, inside and after fork.
"""

from modelcheck import Spec
from modelcheck.cow import CowWorld

SPEC = Spec(
    id="O19",
    title="fork racing a GUP-fast pin on another thread (write_protect_seq)",
    world=lambda: CowWorld.scripted({
        "parent": ["fork", "await pinned", "store a0", "dma_read pin"],
        "parent.2": ["pin_rw_fast a0 -> pin", "signal pinned"],
    }),
    invariants=["pin_coherent", "no_lost_write"],
    covers=["gup_fast_unpin", "fork_share"],
    expect={
        "dirty_cow": "violated", "mapcount": "violated", "gup_cow_break": "violated", "page_count": "violated",
        "jason_2020": "violated",
        "page_count_early_cow": "violated",  # the race itself
        "andrea_cor": "violated",
        "page_count_fork_copy": "holds",     # 57efa1fe5957
        "refcount_5_18": "holds", "anon_exclusive": "holds", "anon_exclusive_6_2": "holds",
        "per_vma_lock_6_4": "holds", "odirect_pins_6_5": "holds", "uffd_wp_async_6_7": "holds",
        "uffd_move_6_8": "holds", "large_folio_6_9": "holds", "large_swapin_6_11": "holds",
        "huge_zero_thp_6_13": "holds",
        "mm_owner_6_15_rc1": "holds", "mm_owner_6_15": "holds", "mainline_7_3": "holds",
        "page_count_refuse_wrprotect": "holds",
    },
)
