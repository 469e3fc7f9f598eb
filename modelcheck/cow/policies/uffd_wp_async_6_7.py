"""``uffd_wp_async_6_7``: v6.7 on, userfaultfd write-protection can be asynchronous (UFFD_FEATURE_WP_ASYNC).

Peter Xu's d61ea1cb0095 ("userfaultfd: UFFD_FEATURE_WP_ASYNC", the first patch of the PAGEMAP_SCAN series v33
of Aug 2023, merged for v6.7 with 52526ca7fdb9, "fs/proc/task_mmu: implement IOCTL to get and optionally
clear info about PTEs"; the release is inferred from the series' merge window, not read in a release tree).
Read in the 7.1.5 tree:

* do_wp_page (mm/memory.c): on a write fault (not an unsharing one) to a PTE with the uffd-wp bit, a
  synchronous userfaultfd gets the event (handle_userfault); an async one (userfaultfd_wp_async, from the
  context's features) has the bit cleared in the PTE, with no TLB flush, and the fault goes on to the pending
  uffd-wp flush and the reuse-or-copy decision of a plain write-protected PTE. So an exclusive page is reused
  (PAE) and a pinned one stays the pinned page; a shared one is copied, the copy without the bit.
* userfaultfd_api (fs/userfaultfd.c): the feature is accepted only where the architecture has uffd-wp PTE
  markers, and implies UFFD_FEATURE_WP_UNPOPULATED. A kernel without the commit does not know the feature bit,
  and its UFFDIO_API fails with EINVAL for any unknown one; the program then has no userfaultfd to register
  with. The world says this faithfully for older policies: the scenario's ``uffd_wp_async`` address is not
  registered, and the operation changes nothing (branch ``uffd_refused``), so a later store writes through.

The same series' PAGEMAP_SCAN ioctl only reads and write-protects PTEs (as uffd_wp does); the world has no
operation for it, and the selftests' async tests reach the same PTE states through UFFDIO_WRITEPROTECT.
"""

from modelcheck.cow.policies.mapcount import Pre2020Rule
from modelcheck.cow.policies.odirect_pins_6_5 import ODirectPins65Policy
from modelcheck.cow.policies.pieces import commit, era


@commit("d61ea1cb0095", "userfaultfd: UFFD_FEATURE_WP_ASYNC", "v6.7",
        "a write fault on an async uffd-wp PTE clears the bit in the kernel (no event) and reuses or copies")
class AsyncUffdWp(Pre2020Rule):
    """UFFDIO_API accepts UFFD_FEATURE_WP_ASYNC; do_wp_page resolves such a uffd-wp fault itself. No reuse or
    copy rule changes: the fault that follows is the one of a PTE without the bit."""

    uffd_wp_async = True


UffdWpAsync67Policy = era("uffd_wp_async_6_7", "v6.7", ODirectPins65Policy, [AsyncUffdWp],
                          summary="odirect_pins_6_5 with async uffd-wp: the write fault drops the bit, then reuses or "
                                  "copies")
POLICY = UffdWpAsync67Policy()
