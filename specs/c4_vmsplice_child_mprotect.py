"""C4: vmsplice() + unmap in the child, with the mprotect() optimization (cow.c).

CVE-2020-29374 (see vmsplice.py, C3) with mprotect(PROT_READ) and
mprotect(PROT_READ|PROT_WRITE) in the parent before its write: the 6.0
write-upgrade must not make the page the child's pipe still holds writable.

The selftest waits for the child's unmap before the parent's mprotect and
write, and reads the pipe after the write; here the two processes' steps
interleave in every order, the selftest's among them.
"""

from modelcheck import Spec
from modelcheck.cow import CowWorld

SPEC = Spec(
    id="C4",
    title="vmsplice() + unmap in the child with mprotect() optimization",
    world=lambda: CowWorld.scripted({
        "parent": ["fork", "mprotect_ro a0", "mprotect_rw a0", "store a0"],
        "child1": ["vmsplice a0", "munmap a0", "pipe_read"],
    }),
    mirrors=[("cow.c", "test_vmsplice_in_child_mprotect", "base-page")],
    invariants=["no_leak_to_child"],
    expect={
        "mapcount": "violated",        # the CVE (cow-history C3/C4)
        "gup_cow_break": "holds",      # 17839856fd58 closed it from the GUP side
        "page_count": "holds",         # 09854ba94c6a closed it from the fault side
        "anon_exclusive_6_2": "holds", # cow.c runs this test against the 6.0 optimization
    },
)
