"""``page_count``: the v5.9 simplification of do_wp_page.

Commit 09854ba94c6a ("mm: do_wp_page() simplification", Linus Torvalds, v5.9):
for an anonymous page, copy unless the page is not KSM and its page_count is 1;
then trylock the page (copy if that fails, never sleep) and, under the lock,
recheck that it is mapped once and referenced once before reusing it. Any extra
reference (a GUP reference, a pipe buffer, the swap cache, a per-CPU LRU batch,
a speculative get_page) therefore means a copy: copying is always safe for the
faulting process, which is why this closes CVE-2020-29374 from the fault side
without GUP having to break COW (a308c71bf1e6 removed the forced break that
17839856fd58 had added).

The world has no KSM pages, so the rule is: copy if the page lock is taken,
else reuse iff ``refcount == 1 and mapcount == 1``.
"""

from modelcheck.cow.policies.base import PageInfo, Policy, WriteFault


class PageCountPolicy(Policy):
    name = "page_count"
    release = "v5.9"
    commits = ("09854ba94c6a",)
    summary = "reuse on a write fault only when the page's refcount is 1 (any other reference copies)"

    def write_fault(self, page: PageInfo) -> WriteFault:
        if page.locked:
            return WriteFault.COPY  # trylock_page failed: copying is always safe
        if page.refcount == 1 and page.mapcount == 1:
            return WriteFault.REUSE
        return WriteFault.COPY


POLICY = PageCountPolicy()
