"""GL-private-rw-file-fast: GL-private-rw-file (gl_private_rw_disk.py) with the pin taken by GUP-fast
(pin_user_pages_fast through gup_test), as gup_longterm.c's test_private_rw_fast_pin takes it.

The lockless walk pins a page only where it may take it as mapped. What GL-private-rw-file turns on (a
read-only PTE to unshare or break COW on, a swap entry, the zero page's special PTE, a file page it may not
pin long-term and writable) makes it give up and leave the pin to the slow path, so every era's verdict is
GL-private-rw-file's, for the reasons its docstring gives, and its expectations are GL-private-rw-file's.
"""

from dataclasses import replace
from pathlib import Path

from modelcheck.spec import load_spec

GL_PRIVATE_RW_FILE = load_spec(Path(__file__).with_name("gl_private_rw_disk.py"))

SPEC = replace(
    GL_PRIVATE_RW_FILE,
    id="GL-private-rw-file-fast",
    title=GL_PRIVATE_RW_FILE.title + " (GUP-fast)",
    world=lambda **params: GL_PRIVATE_RW_FILE.world(**params).with_operations_as({"pin_rw": "pin_rw_fast"}),
    mirrors=[("gup_longterm.c", "test_private_rw_fast_pin", "tmpfile"),
             ("gup_longterm.c", "test_private_rw_fast_pin", "local-tmpfile")],
)
