"""GL-shared-ro-file-fast: GL-shared-ro-file (gl_shared_ro_disk.py) with the pin taken by GUP-fast
(pin_user_pages_fast through gup_test), as gup_longterm.c's test_shared_ro_fast_pin takes it.

The lockless walk pins a page only where it may take it as mapped. What GL-shared-ro-file turns on (a
read-only PTE to unshare or break COW on, a swap entry, the zero page's special PTE, a file page it may not
pin long-term and writable) makes it give up and leave the pin to the slow path, so every era's verdict is
GL-shared-ro-file's, for the reasons its docstring gives, and its expectations are GL-shared-ro-file's.
"""

from dataclasses import replace
from pathlib import Path

from modelcheck.spec import load_spec

GL_SHARED_RO_FILE = load_spec(Path(__file__).with_name("gl_shared_ro_disk.py"))

SPEC = replace(
    GL_SHARED_RO_FILE,
    id="GL-shared-ro-file-fast",
    title=GL_SHARED_RO_FILE.title + " (GUP-fast)",
    world=lambda **params: GL_SHARED_RO_FILE.world(**params).with_operations_as({"pin_ro": "pin_ro_fast"}),
    mirrors=[("gup_longterm.c", "test_shared_ro_fast_pin", "tmpfile"),
             ("gup_longterm.c", "test_shared_ro_fast_pin", "local-tmpfile")],
)
