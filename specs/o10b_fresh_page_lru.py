"""O10b (LRU batch, fresh page): a page write-faulted in fresh sits in the LRU add batch; its next write fault.

Where O10-lru gets its page in the LRU batch from a COW copy after a fork, here
the address starts untouched and the parent's first store faults a fresh page
in (do_anonymous_page: folio_add_new_anon_rmap, then folio_add_lru_vma puts it
in the local add batch, which holds a reference until drained). No fork: the
page is the parent's alone from its first byte. mprotect(PROT_READ) and
mprotect(PROT_READ|PROT_WRITE) leave the PTE read-only (or, from 6.0, the
policy's mprotect upgrade makes it writable at once), and the second store
write-faults on a page only its own mapping and the batch hold:

* 5.9-5.17, the page_count rule (09854ba94c6a, cow-history.md P2): the batch's
  reference makes the refcount 2, so the fault copies for nothing until the
  kernel happens to drain the batch first (cow-history.md O10, the
  "unnecessary COW" of S10): no_spurious_copy violated;
* 5.18 (d4c470970d45, P6): the local batch is drained before deciding, and the
  page is reused: holds;
* 5.19 on (6c287605fd56, PageAnonExclusive): the fresh page is exclusive from
  its fault and is reused at once (and mainline's early bail-out, P27 of
  cow-after-2022.md, never reaches the drain): holds;
* before 5.8, the mapcount rule: mapcount 1, reused: holds.

The same verdicts as O10-lru, for the page every process starts with rather
than a COW copy: the page_count rule's spurious copy does not need a fork.
"""

from modelcheck import Spec
from modelcheck.cow import CowWorld

SPEC = Spec(
    id="O10b-fresh-lru",
    title="fresh page in the LRU add batch => spurious COW",
    world=lambda: CowWorld.scripted({
        "parent": ["store a0", "mprotect_ro a0", "mprotect_rw a0", "store a0"],
    }, events=["lru"], fresh=["a0"]),
    invariants=["no_spurious_copy"],
    expect={
        "mapcount": "holds",            # reuse_swap_page() counts mappings and swap entries, not the batch's reference
        "gup_cow_break": "holds",       # 17839856fd58 changed GUP only: the fault rule is still the mapcount's
        "page_count": "violated",       # cow-history O10 / S10: the LRU batch's reference => unnecessary COW
        "page_count_fork_copy": "violated",  # the same fault rule as page_count (70e806e4e645 changes fork only)
        "refcount_5_18": "holds",       # d4c470970d45: the local batch is drained before deciding
        "anon_exclusive": "holds",      # 6c287605fd56: the fresh page is PageAnonExclusive: reused at once
        "anon_exclusive_6_2": "holds",  # as anon_exclusive
        "odirect_pins_6_5": "holds",    # as anon_exclusive: exclusive, reused at once
        "uffd_wp_async_6_7": "holds",
        "uffd_move_6_8": "holds",  # as uffd_wp_async_6_7 (UFFDIO_MOVE is not used here)
        "mainline_7_3": "holds",        # P27: exclusive, reused without a drain
        "andrea_cor": "holds",          # its reuse rule is the mapcount's (RestoreFullAccuracy)
        "jason_2020": "violated",       # page_count's rule; the page is not maybe-pinned, so no mapcount fallback
    },
)
