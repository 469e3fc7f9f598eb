"""C18-hugezero (cow.c's test_ro_pin on the huge zeropage): a R/O long-term pin of the huge zero page must see
the owner's later write.

As C18-zero (c18_ro_pin_zero_page.py) on a THP's range that a read fault maps the huge zero page over (two pages
standing for 512): the parent reads a0, pins it R/O long-term, stores and has the device read through the pin.

C18-zero's verdicts, for its reasons: before 6.2 the pin takes the huge zero page as mapped (a0's entry names
the zeros) and the store's fault splits the PMD and copies, so the pin reads zeros; the forced COW break of
v5.8 splits and copies first; from 6.2 (84209e87c696 with 8d6a0ac09a16) the R/O long-term pin unshares what is
not an exclusive anonymous page: follow_trans_huge_pmd asks for an unsharing fault, which on the huge zero page
splits the PMD and copies the zero page at the one PTE, exclusive and R/O, which the store then reuses; from
v6.13 (1ced09e0331f) that fault maps a fresh THP by the PMD instead, exclusive and writable, which the pin
takes and the store writes through. (So the split is not among what every run must fire.)
"""

from modelcheck import Spec
from modelcheck.cow import CowWorld, changed_in

SPEC = Spec(
    id="C18-hugezero",
    title="R/O long-term pin of the huge zero page in a private mapping, then a write",
    world=lambda: CowWorld.scripted({
        "parent": ["load a0", "pin_ro a0 -> pin", "store a0", "dma_read pin", "put pin"],
    }, thp=2, fresh=["a0", "a1"]),
    invariants=["pin_coherent", "no_lost_write", "refcount_sane"],
    expect=changed_in("anon_exclusive_6_2") | {
        "gup_cow_break": "holds",
        "andrea_cor": "violated",
        "jason_2020": "violated",
        "page_count_refuse_wrprotect": "violated",
    },
    mirrors=[("cow.c", "test_ro_pin", "huge-zeropage")],
    covers=["huge_zero_map"],
)
