"""C18-hugezero-fast (cow.c's test_ro_fast_pin on the huge zeropage): C18-hugezero through GUP-fast.

GUP-fast has no VMA: gup_must_unshare takes a page that is not anonymous for one to unshare in a COW mapping
where the pin is long-term (from 6.2), so the walk leaves it to the slow path, which unshares as C18-hugezero's
does; before 6.2 GUP-fast pins the huge zero page as the slow path does. C18-hugezero's verdicts.
"""

from dataclasses import replace
from pathlib import Path

from modelcheck.spec import load_spec

C18_HUGEZERO = load_spec(Path(__file__).with_name("c18_ro_pin_huge_zero_page.py"))

SPEC = replace(
    C18_HUGEZERO,
    id="C18-hugezero-fast",
    title=C18_HUGEZERO.title + " (GUP-fast)",
    world=lambda **params: C18_HUGEZERO.world(**params).with_operations_as({"pin_ro": "pin_ro_fast"}),
    mirrors=[("cow.c", "test_ro_fast_pin", "huge-zeropage")],
)
