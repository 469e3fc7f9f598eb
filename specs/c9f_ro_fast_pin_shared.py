"""C9-fast: C9 (c9_ro_pin_shared.py) with the pin taken by GUP-fast (pin_user_pages_fast through gup_test), as
cow.c's test_ro_fast_pin_on_shared takes it.

The lockless walk pins a page only where it may take it as mapped. What C9 turns on (a read-only PTE to
unshare or break COW on, a swap entry, the zero page's special PTE, a file page it may not pin long-term and
writable) makes it give up and leave the pin to the slow path, so every era's verdict is C9's, for the reasons
its docstring gives, and its expectations are C9's.
"""

from dataclasses import replace
from pathlib import Path

from modelcheck.spec import load_spec

C9 = load_spec(Path(__file__).with_name("c9_ro_pin_shared.py"))

SPEC = replace(
    C9,
    id="C9-fast",
    title=C9.title + " (GUP-fast)",
    world=lambda **params: C9.world(**params).with_operations_as({"pin_ro": "pin_ro_fast"}),
    mirrors=[("cow.c", "test_ro_fast_pin_on_shared", "base-page")],
)
