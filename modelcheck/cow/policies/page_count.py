"""``page_count``: the v5.9 simplification of do_wp_page.

Any extra reference (a GUP reference, a pipe buffer, the swap cache, a per-CPU
LRU batch, a speculative get_page) now means a copy: copying is always safe for
the faulting process, which is why this closes CVE-2020-29374 from the fault
side, and GUP no longer has to break COW (the same merge took the forced break
out again). A KSM page is always copied from here on; 1a0cf26323c8 (mm/ksm:
Remove reuse_ksm_page()) came with it and removed the function it no longer
called.
"""

from modelcheck.cow.policies.base import PageInfo, WriteFault
from modelcheck.cow.policies.gup_cow_break import ForcedCowBreakInGup, GupCowBreakPolicy
from modelcheck.cow.policies.mapcount import Pre2020Rule
from modelcheck.cow.policies.pieces import commit, era


@commit("09854ba94c6a", "mm: do_wp_page() simplification", "v5.9",
        "reuse only a page mapped once and referenced once; trylock, else copy")
class DoWpPageSimplification(Pre2020Rule):
    """Linus Torvalds (S17): for an anonymous page, copy unless it is not KSM and its page_count is 1; then
    trylock the page (copy if that fails, never sleep) and, under the lock, recheck that it is mapped once
    and referenced once before reusing it: a KSM page is copied; else copy if the lock is taken, else reuse
    iff ``refcount == 1 and mapcount == 1``."""

    def write_fault(self, page: PageInfo) -> WriteFault:
        if page.ksm:
            return WriteFault.COPY  # the KSM page is never reused again (1a0cf26323c8 removes reuse_ksm_page)
        if page.locked:
            return WriteFault.COPY  # trylock_page failed: copying is always safe
        if page.refcount == 1 and page.mapcount == 1:
            return WriteFault.REUSE
        return WriteFault.COPY


@commit("a308c71bf1e6", "mm/gup: Remove enfornced COW mechanism", "v5.9",
        "a read GUP takes what is mapped again", reverts=ForcedCowBreakInGup)
class RemoveEnforcedCow(Pre2020Rule):
    """Peter Xu (S18; the subject's typo is the commit's): takes the forced break of 17839856fd58 out
    again, now that the fault side copies whenever another reference exists."""


PageCountPolicy = era("page_count", "v5.9", GupCowBreakPolicy, [DoWpPageSimplification, RemoveEnforcedCow],
                      summary="reuse on a write fault only when the page's refcount is 1 (any other reference copies)")
POLICY = PageCountPolicy()
