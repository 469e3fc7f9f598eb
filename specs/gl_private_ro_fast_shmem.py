"""GL-private-ro-memfd-fast: GL-private-ro-memfd (gl_private_ro_shmem.py) with the pin taken by GUP-fast
(pin_user_pages_fast through gup_test), as gup_longterm.c's test_private_ro_fast_pin takes it.

The lockless walk pins a page only where it may take it as mapped. What GL-private-ro-memfd turns on (a
read-only PTE to unshare or break COW on, a swap entry, the zero page's special PTE, a file page it may not
pin long-term and writable) makes it give up and leave the pin to the slow path, so every era's verdict is
GL-private-ro-memfd's, for the reasons its docstring gives, and its expectations are GL-private-ro-memfd's.
"""

from dataclasses import replace
from pathlib import Path

from modelcheck.spec import load_spec

GL_PRIVATE_RO_MEMFD = load_spec(Path(__file__).with_name("gl_private_ro_shmem.py"))

SPEC = replace(
    GL_PRIVATE_RO_MEMFD,
    id="GL-private-ro-memfd-fast",
    title=GL_PRIVATE_RO_MEMFD.title + " (GUP-fast)",
    world=lambda **params: GL_PRIVATE_RO_MEMFD.world(**params).with_operations_as({"pin_ro": "pin_ro_fast"}),
    mirrors=[("gup_longterm.c", "test_private_ro_fast_pin", "memfd")],
)
