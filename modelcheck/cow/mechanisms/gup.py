"""get_user_pages: FOLL_GET and FOLL_PIN references, pipes filled by vmsplice, devices doing DMA."""

from __future__ import annotations

from modelcheck.cow.layout import MM_HAS_PINNED, PTE_SWAP, PTE_UFFD_WP, PTE_WRITE, pte_page
from modelcheck.cow.policies import GupFirst, GupRequest


class Gup:
    """Mixed into ``CowModel``."""

    def gup_prepare(self, t: list[int], proc: int, addr: int, write: bool, pin: bool, longterm: bool) -> str | None:
        """Fault the page in as the policy asks before a reference is taken; None when nothing is mapped."""
        L = self.layout
        k = L.pte_index(proc, addr)
        pte = t[k]
        if not pte:
            return None
        if pin and L.features.mm:
            t[L.mm_base + proc] |= MM_HAS_PINNED  # set before any page is pinned, never cleared
        swapped = ""
        if pte & PTE_SWAP:  # faultin_page: a swap-in fault first (a write one for FOLL_WRITE)
            swapped = self.swap_in(t, proc, addr, write=write and not pte & PTE_UFFD_WP) + "+"
            pte = t[k]
        request = GupRequest(write=write, pin=pin, longterm=longterm, pte_writable=bool(pte & PTE_WRITE))
        first = self.policy.gup(request, self.info(t, pte_page(pte), proc))
        if first is GupFirst.WRITE_FAULT and not pte & PTE_WRITE:
            # a forced COW break on a read GUP is what 17839856fd58 did; on a uffd-wp PTE it raises
            # a userfault, which the handler resolves by write-unprotecting
            uffd = "uffd_fault+" if pte & PTE_UFFD_WP else ""
            if uffd:
                t[k] = pte & ~PTE_UFFD_WP
                self.clear_write_protect_request(t, proc, addr)
            fault = self.write_fault(t, proc, addr)
            if fault is None:
                return None  # waits for the page lock
            return swapped + uffd + ("gup_write_fault+" if write else "gup_cow_break+") + fault
        if first is GupFirst.UNSHARE and not pte & PTE_WRITE:
            return swapped + self.unshare_fault(t, proc, addr)
        return swapped + "gup"

    def op_gup(self, t: list[int], holder: int) -> str | None:
        """Take the scenario's GUP reference number ``holder``."""
        h = self.holders[holder]
        branch = self.gup_prepare(t, h.proc, h.addr, h.writable, h.is_pin, h.is_pin)
        if branch is None:
            return None
        L = self.layout
        t[L.holder_base + holder] = pte_page(t[L.pte_index(h.proc, h.addr)]) + 1
        return branch

    def op_put(self, t: list[int], holder: int) -> str | None:
        L = self.layout
        i = L.holder_base + holder
        if not t[i]:
            return None
        page = t[i] - 1
        t[i] = 0
        self.release(t, page)
        return "put"

    def op_dma_write(self, t: list[int], holder: int, tag: int) -> str | None:
        """The device writes through the reference; for its owner that write has completed."""
        L = self.layout
        page = t[L.holder_base + holder] - 1
        if page < 0:
            return None
        h = self.holders[holder]
        t[L.value_index(page, h.cell)] = tag
        self.record_write(t, h.proc, h.addr, tag, h.cell)
        return "dma_write"

    def op_dma_read(self, t: list[int], holder: int) -> str | None:
        return "dma_read" if t[self.layout.holder_base + holder] else None

    def op_vmsplice(self, t: list[int], proc: int, addr: int) -> str | None:
        """vmsplice(): a read FOLL_GET through get_user_pages_fast, held by the process's pipe."""
        L = self.layout
        if t[L.pipe_base + proc]:
            return None
        branch = self.gup_prepare(t, proc, addr, write=False, pin=False, longterm=False)
        if branch is None:
            return None
        t[L.pipe_base + proc] = pte_page(t[L.pte_index(proc, addr)]) + 1
        return branch

    def op_pipe_read(self, t: list[int], proc: int) -> str | None:
        L = self.layout
        i = L.pipe_base + proc
        if L.pipe_base == L.value_base or not t[i]:  # no pipes in this world, or an empty one
            return None
        page = t[i] - 1
        t[i] = 0
        self.release(t, page)
        return "pipe_read"
