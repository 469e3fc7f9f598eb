"""``dirty_cow``: every release to v4.8, the mapcount rule with the FOLL_FORCE path before the Dirty COW fix.

A FOLL_FORCE|FOLL_WRITE GUP (ptrace, a write to /proc/pid/mem) on a read-only private mapping finds a
read-only PTE, so faultin_page takes a write fault, which breaks COW (reuses or copies) and maps the result
read-only, the VMA having no VM_WRITE. From f33ea7f404e5 ("fix get_user_pages bug", v2.6.13, which undid
4ceb5db9757a of the same year) __get_user_pages then cleared FOLL_WRITE once that fault returned
VM_FAULT_WRITE in a VMA without VM_WRITE, so that the retry would not fault for ever: the retry takes
whatever page is mapped by then, with a read fault if nothing is. A MADV_DONTNEED (mmap_lock for reading only,
as GUP holds it) between the fault and the retry zaps the COW copy; the read fault then maps the shared zero
page (of a private anonymous mapping; the page-cache page of a private file mapping) and the forced write
lands in it: CVE-2016-5195. 19be0eaffa3a ("mm: remove gup_flags FOLL_WRITE games from __get_user_pages()",
v4.9-rc2, in v4.8.3) keeps FOLL_WRITE and sets FOLL_COW instead, following a read-only PTE only if it is
dirty (the COW copy is): the rule of ``Pre2020Rule``. The ids and the 2005 history are the fix's own commit
message; the kernel code before it was not read here.

Composed on ``mapcount`` (the only decision of this world that differs before v4.9), so that the variant is
the 2020 rule with the one step taken back.
"""

from modelcheck.cow.policies.base import PageInfo
from modelcheck.cow.policies.mapcount import MapcountPolicy, Pre2020Rule
from modelcheck.cow.policies.pieces import commit, era


@commit("f33ea7f404e5", "fix get_user_pages bug", "v2.6.13",
        "a forced write drops FOLL_WRITE after its COW fault: the retry writes whatever is mapped then")
class ForcedWriteDropsFollWrite(Pre2020Rule):
    """After a write fault answered by reuse or copy, the forced write follows any present PTE; an empty one
    gets a read fault first."""

    forced_write_drops_foll_write = True

    def forced_write_follows(self, page: PageInfo, cowed: bool, pte_dirty: bool, fault_needed: bool) -> bool:
        return cowed


DirtyCowPolicy = era("dirty_cow", "<= v4.8", MapcountPolicy, [ForcedWriteDropsFollWrite],
                     summary="mapcount, and a forced write that follows any PTE after its COW fault (Dirty COW)")
POLICY = DirtyCowPolicy()
