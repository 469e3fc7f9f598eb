"""C12-C9-fast: C12-C9 (c12_c9_ro_pin_shared_swapped.py) with the pin taken by GUP-fast (pin_user_pages_fast
through gup_test), as cow.c's test_ro_fast_pin_on_shared takes it.

The lockless walk pins a page only where it may take it as mapped. What C12-C9 turns on (a read-only PTE to
unshare or break COW on, a swap entry, the zero page's special PTE, a file page it may not pin long-term and
writable) makes it give up and leave the pin to the slow path, so every era's verdict is C12-C9's, for the
reasons its docstring gives, and its expectations are C12-C9's.
"""

from dataclasses import replace
from pathlib import Path

from modelcheck.spec import load_spec

C12_C9 = load_spec(Path(__file__).with_name("c12_c9_ro_pin_shared_swapped.py"))

SPEC = replace(
    C12_C9,
    id="C12-C9-fast",
    title=C12_C9.title + " (GUP-fast)",
    world=lambda **params: C12_C9.world(**params).with_operations_as({"pin_ro": "pin_ro_fast"}),
    mirrors=[("cow.c", "test_ro_fast_pin_on_shared", "base-page-swapped")],
)
