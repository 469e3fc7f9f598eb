"""C12-C9: C9 on a swapped-out page (cow.c's test_ro_pin_on_shared "with swapped-out base page").

The page is paged out before fork, so the child's share is a swap PTE (a swap
count) rather than a mapping; the parent's R/O long-term pin swaps it in
read-only, then the parent writes and the pin must see the write.

Where the verdicts differ from C9's, and why:
* andrea_cor: violated here, holds in C9. Its copy-on-read (S34) counts the
  mappings only (see andrea_cor.py for the sources), and the child's share is
  a swap entry, so the pin takes the page as it is; the write fault counts
  the swap count too and copies away from the pin.
* jason_2020 is violated as in C9: its fallback for maybe-pinned pages is
  reuse_swap_page(), mapcount plus swap count (cow-history Alt-B, S35), which
  sees the child's swap entry as C9's sees the child's mapping.
Every other era as C9: PG_anon_exclusive (v5.19) makes the pin unshare a page
that is not exclusive (a swap-in of a shared slot never marks it exclusive),
and gup_cow_break's read GUP breaks COW first.
"""

from modelcheck import Spec
from modelcheck.cow import CowWorld

SPEC = Spec(
    id="C12-C9",
    title="R/O GUP pin on R/O-mapped shared page, page swapped out first",
    world=lambda: CowWorld.scripted({
        "parent": ["pageout a0", "fork", "pin_ro a0 -> pin", "store a0", "dma_read pin"],
    }),
    mirrors=[("cow.c", "test_ro_pin_on_shared", "base-page-swapped")],
    invariants=["pin_coherent", "no_lost_write"],
    expect={
        "mapcount": "violated",
        "gup_cow_break": "holds",
        "page_count": "violated",
        "refcount_5_18": "violated",
        "anon_exclusive": "holds",          # FAULT_FLAG_UNSHARE (S13)
        "anon_exclusive_6_2": "holds",
        "mainline_7_3": "holds",
        "jason_2020": "violated",           # its reuse_swap_page() fallback sees the child's swap entry (S35)
    },
)
