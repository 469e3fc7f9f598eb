"""C11-fast: C11 (c11_ro_pin_exclusive.py) with the pin taken by GUP-fast (pin_user_pages_fast through gup_test),
as cow.c's test_ro_fast_pin_on_ro_exclusive takes it.

The lockless walk pins a page only where it may take it as mapped. What C11 turns on (a read-only PTE to
unshare or break COW on, a swap entry, the zero page's special PTE, a file page it may not pin long-term and
writable) makes it give up and leave the pin to the slow path, so every era's verdict is C11's, for the
reasons its docstring gives, and its expectations are C11's.
"""

from dataclasses import replace
from pathlib import Path

from modelcheck.spec import load_spec

C11 = load_spec(Path(__file__).with_name("c11_ro_pin_exclusive.py"))

SPEC = replace(
    C11,
    id="C11-fast",
    title=C11.title + " (GUP-fast)",
    world=lambda **params: C11.world(**params).with_operations_as({"pin_ro": "pin_ro_fast"}),
    mirrors=[("cow.c", "test_ro_fast_pin_on_ro_exclusive", "base-page")],
)
