"""``mapcount``: the rule up to v5.7 (and v5.8 for the fault path).

do_wp_page took the page lock and asked reuse_swap_page(): reuse the page when
its mapcount plus the swap count of its swap slot is at most one, whatever its
refcount. GUP references (a vmsplice'd pipe buffer, an O_DIRECT or RDMA
reference) are invisible to that test, so a process that holds only a GUP
reference to a page can keep reading it after the last other mapper reuses it:
CVE-2020-29374 (Jann Horn, Project Zero issue 2045).

Read in the v5.7 tree (mm/memory.c do_wp_page, mm/swapfile.c reuse_swap_page):
the test is ``mapcount + swapcount <= 1``, decided under the page lock (if
another path holds it, the fault sleeps in lock_page and looks again);  (the swap count of the page's swap
slot; a page in the swap cache has one for every swap PTE still naming it).
"""

from modelcheck.cow.policies.base import PageInfo, Policy, WriteFault


class MapcountPolicy(Policy):
    name = "mapcount"
    release = "<= v5.7"
    commits = ()  # the long-standing rule; 17839856fd58 (v5.8) kept it for faults
    summary = "reuse on a write fault when the page's mapcount is 1 (refcount ignored)"

    def write_fault(self, page: PageInfo) -> WriteFault:
        if page.locked:
            return WriteFault.WAIT  # lock_page: sleep, then look again
        return WriteFault.REUSE if page.mapcount + page.swapcount <= 1 else WriteFault.COPY


POLICY = MapcountPolicy()
