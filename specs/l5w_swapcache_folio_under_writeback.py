"""L5w: L5 (l5_swapcache_folio_mapped_whole.py) without waiting for the swap device: the parent may read and
write the folio while its writeback is still under way.

folio_free_swap fails on a folio under writeback, so 6.15's reuse check finds the swap cache's references
still there and copies: no_spurious_copy is violated from v5.9 on, 6.15 included, and only the rule before
2020 (reuse_swap_page, which reuses without freeing the swap cache) holds. This is what a program on a 6.18
kernel sees after MADV_PAGEOUT of a THP onto a non-rotational swap device that writes asynchronously: its write
right after copies the page (results/reproducers.md); when the write finishes is up to the device.
"""

from dataclasses import replace
from pathlib import Path

from modelcheck.cow.policies.releases import changed_in
from modelcheck.spec import load_spec

BASE = load_spec(Path(__file__).with_name("l5_swapcache_folio_mapped_whole.py"))

SPEC = replace(
    BASE,
    id="L5w-swapcache-writeback",
    title="A large folio in the swap cache under writeback: even 6.15 copies its only process's write",
    world=lambda pages: BASE.world(pages=pages).without_schedule(),
    expect=changed_in("page_count", before="holds", after="violated") | {"andrea_cor": "holds"},
)
