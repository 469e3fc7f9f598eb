"""``mapcount``: the rule up to v5.7 (and v5.8 for the fault path), the base of every composition.

It stands for v4.9 to v5.7: the releases before have the FOLL_FORCE rule of ``dirty_cow`` (CVE-2016-5195),
the only decision of this world that differs there.

do_wp_page took the page lock and asked reuse_swap_page(): reuse the page when
its mapcount plus the swap count of its swap slot is at most one, whatever its
refcount. GUP references (a vmsplice'd pipe buffer, an O_DIRECT or RDMA
reference) are invisible to that test, so a process that holds only a GUP
reference to a page can keep reading it after the last other mapper reuses it:
CVE-2020-29374 (Jann Horn, Project Zero issue 2045).

Read in the v5.7 tree (mm/memory.c do_wp_page, mm/swapfile.c reuse_swap_page):
the test is ``mapcount + swapcount <= 1``, decided under the page lock (if
another path holds it, the fault sleeps in lock_page and looks again); the
swap count is that of the page's swap slot, one for every swap PTE still
naming it. A KSM page is copied if it is in the swap cache or its refcount is
not 1, before the lock; else, under the lock, reuse_ksm_page reuses a stable
KSM page by freezing its refcount at 1 (predicates-check §1: Kirill Tkhai's
"mm: reuse only-pte-mapped KSM page in do_wp_page()", posted Dec 2018: absent
in v5.0, present by v5.3; its id is not verified here; before it every KSM page
was copied).
"""

from modelcheck.cow.policies.base import PageInfo, Policy, WriteFault
from modelcheck.cow.policies.pieces import era


class Pre2020Rule(Policy):
    """Before 2020: reuse if mapcount + swap count <= 1 (page lock), fork shares.

    Every decision as it was before 2020, the base every piece of every era
    builds on: the write fault is the mapcount rule above; everything else is
    the default of ``Policy``: fork shares, GUP faults first only for
    FOLL_WRITE, swap-in reuses on reuse_swap_page(), nothing refuses to
    write-protect or unmap. A FOLL_FORCE write to a read-only private mapping
    follows its PTE only after its own COW fault and if the PTE is dirty
    (FOLL_COW, the Dirty COW fix 19be0eaffa3a, in every release from v4.9).
    """

    def write_fault(self, page: PageInfo) -> WriteFault:
        if page.ksm and (page.in_swapcache or page.refcount != 1):
            return WriteFault.COPY  # a KSM page is tested before the lock
        if page.locked:
            return WriteFault.WAIT  # lock_page: sleep, then look again
        if page.ksm:
            return WriteFault.REUSE  # reuse_ksm_page: the refcount freezes at 1, the page becomes anonymous
        return WriteFault.REUSE if page.mapcount + page.swapcount <= 1 else WriteFault.COPY


MapcountPolicy = era("mapcount", "v4.9-v5.7", Pre2020Rule, [],
                     summary="reuse on a write fault when the page's mapcount is 1 (refcount ignored)")
POLICY = MapcountPolicy()
