"""``large_swapin_6_11``: v6.11 and v6.12, where a fault on a large folio found in the swap cache maps all of it.

Chuanhua Han's and Barry Song's series "large folios swap-in: handle refault cases first" (in the 6.11 merge
window): a large folio that reclaim has put in the swap cache and unmapped, but not yet freed, used to be
faulted back one page at a time; 508758960b8d lets do_swap_page map every page of it at once when the PTEs
of its range are its swap entries, in order and with the same bits (swap_pte_batch), the exclusive bit of
the first one standing for all (read in the 7.1.5 tree, mm/memory.c; absent from a 6.10 tree). With fewer
PTEs than that, only the faulting page is mapped, as before. 4c3f96643687 (should_try_to_free_swap for a
large folio) comes with it: a write fault frees the folio's swap cache once nothing else holds the folio
and none of its swap entries is left. From the same merge window, c18160dba5ff maps an exclusive page writable
on a read swap-in too (absent from the 6.10 tree, present in 7.1.5).
"""

from modelcheck.cow.policies.large_folio_6_9 import LargeFolio69Policy
from modelcheck.cow.policies.mapcount import Pre2020Rule
from modelcheck.cow.policies.pieces import commit, era


@commit("508758960b8d", "mm: swap: entirely map large folios found in swapcache", "v6.11",
        "a fault on a swap entry of a large folio in the swap cache maps all its pages when all are swap entries",
        also=("4c3f96643687",))
class EntireLargeFolioSwapin(Pre2020Rule):
    """do_swap_page maps nr_pages PTEs of a large swap-cache folio in one go (set_ptes), each page made
    exclusive if the first swap entry is, writable on a write fault then."""

    swapin_maps_large_folio = True


@commit("c18160dba5ff", "mm: swap: reuse exclusive folio directly instead of wp page faults", "v6.11",
        "a swap-in read fault maps an exclusive page writable at once")
class ExclusiveSwapinWritable(Pre2020Rule):
    """do_swap_page makes the PTE of an exclusive page writable on a read fault too, where VM_WRITE allows and
    neither uffd-wp nor soft-dirty tracking wants a fault first (pte_needs_soft_dirty_wp): the write that
    would have faulted to reuse it goes through."""

    swapin_read_maps_exclusive_writable = True


LargeSwapin611Policy = era("large_swapin_6_11", "v6.11", LargeFolio69Policy,
                           [EntireLargeFolioSwapin, ExclusiveSwapinWritable],
                           summary="large_folio_6_9, and a swap-in maps a large swap-cache folio whole, an "
                                   "exclusive page writable")
POLICY = LargeSwapin611Policy()
