"""``mainline_7_3``: current mainline for small pages, stated against mm/memory.c at 8d596d8b81ef.

Read in torvalds/linux mm/memory.c at 8d596d8b81ef (the newest mainline mm/memory.c reachable, Aug 2026), and
compared with the 7.1.5 tree:

* wp_can_reuse_anon_folio for a small folio: 7.1.5 still gives up above refcount 3 and drains the local LRU
  caches whenever the folio is not on the LRU. 8d596d8b81ef gives up above 1 + (not on the LRU) + (in the
  swap cache) and drains only a folio that is not on the LRU; the rest is unchanged (the refcount against 1
  plus the swap cache, trylock, free the swap slot, reuse iff not KSM and refcount 1). A drain takes away at
  most the local batch's one reference, so what it skips is a drain after which the fault would copy anyway:
  no verdict changes, one drain less (cow-after-2022 P27).
* do_wp_page's final decision is unchanged: an exclusive page, or one wp_can_reuse_anon_folio accepts, is
  reused (and marked exclusive); an unsharing fault keeps it read-only; anything else is copied.
* do_swap_page still maps the page writable at once when it is exclusive or its refcount is 1, and still
  drains the local LRU caches on a write fault to a folio not on the LRU: "mm: drop stale folio_ref_count()==1
  check in do_swap_page reuse logic" and "mm: entirely remove lru_add_drain in do_swap_page", seen with
  8d596d8b81ef in the mm-unstable list of 2026-08-05, are not in this file, so they are no pieces.

8d596d8b81ef is in mm-unstable on 2026-08-05, after the 7.2 merge window, and in torvalds/linux; v7.3 is the
first release that can have it (inferred, not read in a release tree; 7.1.5 does not have it).

It builds on mm_owner_6_15 (the reuse of PTE-mapped large folios an MM owns alone, 6.15, on 6.9's refusal to
reuse any large folio and UFFDIO_MOVE, adef440691ba, 6.8). Not modelled from 6.7 on: the wp_can_reuse_anon_folio
refactor (49b58785b93d, 6.7, no decision changed) and mTHP sizes other than the world's one THP.
"""

from modelcheck.cow.policies.base import PageInfo
from modelcheck.cow.policies.mapcount import Pre2020Rule
from modelcheck.cow.policies.pieces import commit, era
from modelcheck.cow.policies.mm_owner_6_15 import MmOwner615Policy


@commit("8d596d8b81ef", "mm: avoid unnecessary lru drain for wp_can_reuse_anon_folio()", "v7.3",
        "drain the local LRU batch only at refcount <= 1 + (in the batch) + (in the swap cache)")
class DrainOnlyWhenItCanHelp(Pre2020Rule):
    """The early bail-out moves from refcount 3 to 1 for the mapping, 1 for the local LRU batch the page may
    sit in and 1 for the swap cache, and the batch is drained only past it. Above that bound the fault copies
    as the later test (refcount against 1 plus the swap cache) would have after a drain, so the reuse-or-copy
    answer is the 5.18 one (tests/data/policy_decisions.json shows every write_fault answer equal); what
    changes is the drain it no longer does."""

    def drains_lru_before_reuse(self, page: PageInfo) -> bool:
        return (page.refcount <= 1 + page.in_lru_batch + page.in_swapcache
                and super().drains_lru_before_reuse(page))


Mainline73Policy = era("mainline_7_3", "v7.3", MmOwner615Policy, [DrainOnlyWhenItCanHelp],
                       summary="uffd_move_6_8 with the LRU drain only when it can make the page reusable")
POLICY = Mainline73Policy()
