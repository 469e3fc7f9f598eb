"""C18-tmpfile-fast: C18-tmpfile (c18_ro_pin_file_disk.py) with the pin taken by GUP-fast (pin_user_pages_fast
through gup_test), as cow.c's test_ro_fast_pin takes it.

The lockless walk pins a page only where it may take it as mapped. What C18-tmpfile turns on (a read-only PTE
to unshare or break COW on, a swap entry, the zero page's special PTE, a file page it may not pin long-term
and writable) makes it give up and leave the pin to the slow path, so every era's verdict is C18-tmpfile's,
for the reasons its docstring gives, and its expectations are C18-tmpfile's.
"""

from dataclasses import replace
from pathlib import Path

from modelcheck.spec import load_spec

C18_TMPFILE = load_spec(Path(__file__).with_name("c18_ro_pin_file_disk.py"))

SPEC = replace(
    C18_TMPFILE,
    id="C18-tmpfile-fast",
    title=C18_TMPFILE.title + " (GUP-fast)",
    world=lambda **params: C18_TMPFILE.world(**params).with_operations_as({"pin_ro": "pin_ro_fast"}),
    mirrors=[("cow.c", "test_ro_fast_pin", "tmpfile")],
)
