"""C18-memfd-fast: C18-memfd (c18_ro_pin_file_shmem.py) with the pin taken by GUP-fast (pin_user_pages_fast
through gup_test), as cow.c's test_ro_fast_pin takes it.

The lockless walk pins a page only where it may take it as mapped. What C18-memfd turns on (a read-only PTE to
unshare or break COW on, a swap entry, the zero page's special PTE, a file page it may not pin long-term and
writable) makes it give up and leave the pin to the slow path, so every era's verdict is C18-memfd's, for the
reasons its docstring gives, and its expectations are C18-memfd's.
"""

from dataclasses import replace
from pathlib import Path

from modelcheck.spec import load_spec

C18_MEMFD = load_spec(Path(__file__).with_name("c18_ro_pin_file_shmem.py"))

SPEC = replace(
    C18_MEMFD,
    id="C18-memfd-fast",
    title=C18_MEMFD.title + " (GUP-fast)",
    world=lambda **params: C18_MEMFD.world(**params).with_operations_as({"pin_ro": "pin_ro_fast"}),
    mirrors=[("cow.c", "test_ro_fast_pin", "memfd")],
)
