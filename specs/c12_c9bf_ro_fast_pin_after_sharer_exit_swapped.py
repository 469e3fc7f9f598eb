"""C12-C9b-fast: C12-C9b (c12_c9b_ro_pin_after_sharer_exit_swapped.py) with the pin taken by GUP-fast
(pin_user_pages_fast through gup_test), as cow.c's test_ro_fast_pin_on_ro_previously_shared takes it.

The lockless walk pins a page only where it may take it as mapped. What C12-C9b turns on (a read-only PTE to
unshare or break COW on, a swap entry, the zero page's special PTE, a file page it may not pin long-term and
writable) makes it give up and leave the pin to the slow path, so every era's verdict is C12-C9b's, for the
reasons its docstring gives, and its expectations are C12-C9b's.
"""

from dataclasses import replace
from pathlib import Path

from modelcheck.spec import load_spec

C12_C9B = load_spec(Path(__file__).with_name("c12_c9b_ro_pin_after_sharer_exit_swapped.py"))

SPEC = replace(
    C12_C9B,
    id="C12-C9b-fast",
    title=C12_C9B.title + " (GUP-fast)",
    world=lambda **params: C12_C9B.world(**params).with_operations_as({"pin_ro": "pin_ro_fast"}),
    mirrors=[("cow.c", "test_ro_fast_pin_on_ro_previously_shared", "base-page-swapped")],
)
