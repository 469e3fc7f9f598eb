"""O15: a uffd-wp user broken by the forced COW break (umap; S36, S39).

The application write-protects a page with userfaultfd and then write(2)s
from it, a read-only GUP: it must not get a write-protect fault for a read.
"""

from modelcheck import Spec
from modelcheck.cow import CowWorld

SPEC = Spec(
    id="O15",
    title="uffd-wp page read by GUP",
    world=lambda: CowWorld.scripted({
        "parent": ["uffd_wp a0", "get_ro a0 -> buf", "put buf"],
    }),
    invariants=["read_gup_no_write_fault"],
    expect={
        "gup_cow_break": "violated",  # S36, S39: 17839856fd58 raised uffd-wp faults for reads
        "page_count": "holds",        # a308c71bf1e6 removed the forced break
    },
)
