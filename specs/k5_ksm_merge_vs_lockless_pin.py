"""K5 (cow-history P7, "temporary unmapping"): ksmd merges a page while GUP-fast takes a R/O pin of it.

The parent marks two addresses of the same contents mergeable and takes a R/O long-term pin of a0 with
pin_user_pages_fast. ksmd merges a0's page into a1's (which becomes the KSM page in place) in two steps
under the page lock it holds throughout (try_to_merge_one_page, mm/ksm.c): write_protect_page clears and
flushes the PTE, gives up unless the refcount is just the mappings (so a pin taken earlier stops the merge),
and puts the PTE back read-only; replace_page then maps the KSM page if the PTE is unchanged (pte_same),
without looking at the refcount again. GUP-fast can pin between the two (it takes no lock):

* before v5.19 a R/O pin takes whatever is mapped read-only: the pin keeps a0's old page while a0 now maps
  the KSM page, pin_coherent violated (the R/O pin breakage, through KSM); 5.8's forced COW break
  (17839856fd58) makes GUP-fast fall back to a write fault instead, which waits for the page lock (before
  v5.9 the fault sleeps on it) and then copies the KSM page: holds;
* from v5.19 (a7f226604170) the page write_protect_page left is no longer PG_anon_exclusive, so GUP-fast may
  not pin it (gup_must_unshare) and falls back to an unsharing fault, which finds the page locked by ksmd,
  copies it and maps the copy: replace_page's pte_same fails and the pin holds what a0 maps: holds.
  (Andrea's copy-on-read proposal unshares only pages it sees mapped twice: violated.)
"""

from modelcheck import Spec
from modelcheck.cow import CowWorld, changed_in

SPEC = Spec(
    id="K5-ksm-merge-fast-pin",
    title="KSM merge racing a GUP-fast R/O pin (between write_protect_page and replace_page)",
    world=lambda: CowWorld.scripted({
        "parent": ["madvise_mergeable a0", "madvise_mergeable a1", "pin_ro_fast a0 -> pin"],
    }, events=["ksm"]),
    mirrors=[],
    invariants=["pin_coherent", "refcount_sane"],
    covers=["ksm_wrprotect", "ksm_merge"],
    expect=changed_in("anon_exclusive") | {"gup_cow_break": "holds", "andrea_cor": "violated",
                                           "jason_2020": "violated", "page_count_refuse_wrprotect": "violated"},
)
