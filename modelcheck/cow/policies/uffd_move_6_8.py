"""``uffd_move_6_8``: v6.8 on, UFFDIO_MOVE moves an anonymous page between addresses of one mm without a copy.

Andrea Arcangeli's and Suren Baghdasaryan's adef440691ba ("userfaultfd: UFFDIO_MOVE uABI", v6.8 per
cow-after-2022 P21; the release is inferred from the merge window) adds the ioctl, for garbage collectors that
compact a heap in place (Android's ART). The COW question it answers: which pages may leave their address.
Read in the 7.1.5 tree (mm/userfaultfd.c, move_pages_pte and move_present_ptes): only a page that is
PageAnonExclusive and not folio_maybe_dma_pinned, both checked under the page-table lock, and the pin check once
more after the source PTE is cleared (a GUP-fast pin may have come in between); anything else fails with EBUSY.
A page shared with a child (fork cleared PG_anon_exclusive) must not move: mapped writable at its new address,
it would carry the parent's later writes into the child's memory. A pinned page must not move either: the pin
would no longer be on the page the process sees at the address it pinned. The moved page keeps
PG_anon_exclusive (it is the same page, now the destination VMA's: folio_move_anon_rmap).

Not modelled: the large-folio split before a move and the swap-cache ABA race fixed by e41bc52b9fd1 (a swap slot
freed and taken by another page between the lockless look-up and the PTE lock; the world's swap slot is its
page's and is never reused).
"""

from modelcheck.cow.policies.base import PageInfo
from modelcheck.cow.policies.mapcount import Pre2020Rule
from modelcheck.cow.policies.pieces import commit, era
from modelcheck.cow.policies.uffd_wp_async_6_7 import UffdWpAsync67Policy


@commit("adef440691ba", "userfaultfd: UFFDIO_MOVE uABI", "v6.8",
        "UFFDIO_MOVE moves only an exclusive, unpinned anonymous page (else EBUSY)")
class UffdioMove(Pre2020Rule):
    """The ioctl exists; an anonymous page moves iff it is PageAnonExclusive and not maybe pinned."""

    uffdio_move = True

    def uffdio_move_refuses(self, page: PageInfo) -> bool:
        return not page.exclusive or page.maybe_dma_pinned


UffdMove68Policy = era("uffd_move_6_8", "v6.8", UffdWpAsync67Policy, [UffdioMove],
                       summary="uffd_wp_async_6_7 with UFFDIO_MOVE: only an exclusive, unpinned page may move")
POLICY = UffdMove68Policy()
