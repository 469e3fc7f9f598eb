"""L6 (cow-after-2022.md, the swapcache case of L3): 6.15 copies a page of a large folio its process owns
alone while another page of the folio is still a swap entry.

The parent forks, its child exits and the parent writes a0 (from 6.15 reused, so page 0 alone is
PG_anon_exclusive again); the THP (three pages, PTE-mapped) is reclaimed into the swap cache and stays there
whole (``pageout_thp_cached``), its swap entries differing: a0's exclusive, a1's and a2's not. The parent
reads a1 and a2, then writes a1. The swap-in cannot map the folio whole (swap_pte_batch wants the same bits
on every entry, 508758960b8d), so each read maps one page, and a0 stays a swap entry. The write fault on a1
finds the folio mapped twice, by this MM alone, in the swap cache: folio_free_swap fails while a0's entry
names the folio ("freeing up the swapcache will fail if some PTEs are still swap entries", 1da190f4d0a6's
comment), the swap cache's three references stay, the large mapcount is below the refcount, and it copies a
page only this process references: spurious (no_spurious_copy), never unsafe.

* up to v5.8 (and ``andrea_cor``): reuse_swap_page sees every page mapped or swapped once: reused, holds;
* v5.9 to v6.14: violated already at the parent's first write (L1's spurious copy of a PTE-mapped THP);
* v6.15 on: the first write is reused, the write to a1 is the swapcache case: violated.
"""

from modelcheck import Spec
from modelcheck.cow import CowWorld
from modelcheck.cow.policies.releases import changed_in

SPEC = Spec(
    id="L6-swapcache-case",
    title="6.15: a spurious copy of a large folio's page while another of its pages is still a swap entry",
    world=lambda pages: CowWorld.scripted({
        "parent": ["fork", "wait child1", "store a0", "pageout_thp_cached a0", "load a1", "load a2", "store a1"],
        "child1": ["exit"],
    }, thp=pages, thp_pte=True),
    params={"pages": 3},
    ladder=[{}, {"pages": 4}],
    mirrors=[],
    invariants=["no_spurious_copy", "large_folio_exclusive_when_writable", "refcount_sane", "no_kernel_warning"],
    expect=changed_in("page_count", before="holds", after="violated") | {"andrea_cor": "holds"},
)
