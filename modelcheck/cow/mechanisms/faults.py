"""CPU accesses and page faults: stores, loads, write faults (do_wp_page) and unsharing faults."""

from __future__ import annotations

from modelcheck.cow.layout import (PAGE_LRU_BATCH, PAGE_SWAPCACHE, PTE_SOFTDIRTY, PTE_SWAP, PTE_UFFD_WP, PTE_WRITE,
                                   VMA_WRITE, pte_make, pte_page)
from modelcheck.cow.policies import Unshare, WriteFault


class Faults:
    """Mixed into ``CowModel``."""

    def vma_writable(self, t, proc: int, addr: int) -> bool:
        L = self.layout
        return not L.features.vma or bool(t[L.vma_base + proc * L.addresses + addr] & VMA_WRITE)

    def write_fault(self, t: list[int], proc: int, addr: int) -> str | None:
        """do_wp_page on a write-protected present PTE: the policy reuses or copies.

        The new or reused PTE is writable when the VMA is (a forced write fault
        in a read-only VMA, as GUP's FOLL_FORCE path does, maps it read-only),
        dirty and so soft-dirty. None when the fault has to wait for the page lock.
        """
        L = self.layout
        k = L.pte_index(proc, addr)
        pte = t[k]
        page = pte_page(pte)
        branch, decision = self.decide_write_fault(t, proc, addr)
        if decision is WriteFault.WAIT:
            return None
        if decision is WriteFault.REUSE:
            return branch + self.reuse_page(t, proc, addr)
        writable = PTE_WRITE if self.vma_writable(t, proc, addr) else 0
        soft_dirty = PTE_SOFTDIRTY if self._pte_flag_bits else 0
        new = self.copy_page(t, page)
        self.flush_address(t, proc, addr)  # ptep_clear_flush before the new PTE goes in
        t[k] = pte_make(new, bool(writable), soft_dirty | (pte & PTE_UFFD_WP))
        self.release(t, page)
        self.clear_write_protect_request(t, proc, addr)
        return branch + "copy"

    def decide_write_fault(self, t: list[int], proc: int, addr: int) -> tuple[str, WriteFault]:
        """The head of do_wp_page: a pending uffd-wp flush (6ce64428d620), then the policy's decision.

        Returns the branch words so far and the decision.
        """
        branch = self.flush_before_wp_fault(t, proc, addr)
        info, drained = self.info_after_drain(t, pte_page(t[self.layout.pte_index(proc, addr)]), proc)
        return branch + drained, self.policy.write_fault(info)

    def info_after_drain(self, t: list[int], page: int, proc: int):
        """The page as the policy sees it, after lru_add_drain() of the local CPU if the policy drains first."""
        info = self.info(t, page, proc)
        if self.policy.drains_lru_before_reuse(info):
            t[self.layout.flags_base + page] &= ~PAGE_LRU_BATCH
            return self.info(t, page, proc), "lru_drain+"
        return info, ""

    def reuse_page(self, t: list[int], proc: int, addr: int) -> str:
        """wp_page_reuse: the same page, now writable (if VM_WRITE), dirty and so soft-dirty; exclusive."""
        k = self.layout.pte_index(proc, addr)
        pte = t[k]
        writable = PTE_WRITE if self.vma_writable(t, proc, addr) else 0
        soft_dirty = PTE_SOFTDIRTY if self._pte_flag_bits else 0
        t[k] = (pte & ~PTE_WRITE) | writable | soft_dirty
        page = pte_page(pte)
        self.set_exclusive(t, page, True)
        if self._swap_on and t[self.layout.flags_base + page] & PAGE_SWAPCACHE and not self.swapcount(t, page):
            t[self.layout.flags_base + page] &= ~PAGE_SWAPCACHE  # reuse_swap_page / try_to_free_swap
        self.clear_write_protect_request(t, proc, addr)
        return "reuse"

    def unshare_fault(self, t: list[int], proc: int, addr: int) -> str:
        """FAULT_FLAG_UNSHARE (5.19) or Andrea's copy-on-read: make the mapped page exclusive, keep it R/O."""
        L = self.layout
        k = L.pte_index(proc, addr)
        pte = t[k]
        page = pte_page(pte)
        info, _ = self.info_after_drain(t, page, proc)
        if self.policy.unshare(info) is Unshare.KEEP:
            self.set_exclusive(t, page, True)
            return "unshare_keep"
        new = self.copy_page(t, page)
        self.flush_address(t, proc, addr)
        t[k] = pte_make(new, False, pte & (PTE_SOFTDIRTY | PTE_UFFD_WP))  # R/O, soft-dirty and uffd-wp kept
        self.release(t, page)
        return "unshare_copy"

    def store_walk(self, t: list[int], proc: int, addr: int, fault) -> str | None:
        """The page-table side of a store: swap in, go through a writable PTE, or ``fault(t, proc, addr)``.

        None when the store cannot proceed: nothing mapped, a uffd-wp PTE (the
        thread waits for UFFDIO_WRITEPROTECT off) or no VM_WRITE (SIGSEGV).
        """
        k = self.layout.pte_index(proc, addr)
        pte = t[k]
        if not pte:
            return None
        if not pte & PTE_WRITE and (pte & PTE_UFFD_WP or not self.vma_writable(t, proc, addr)):
            return None
        prefix = ""
        if pte & PTE_SWAP:
            prefix = self.swap_in(t, proc, addr, write=True) + "+"
            pte = t[k]
            if pte & PTE_WRITE:
                return prefix.rstrip("+")
        if pte & PTE_WRITE:
            return "write"
        branch = fault(t, proc, addr)
        return None if branch is None else prefix + branch

    def op_store(self, t: list[int], proc: int, addr: int, cell: int, tag: int) -> str | None:
        """A CPU store (no TLB in the world): through a writable PTE, or a write fault."""
        branch = self.store_walk(t, proc, addr, self.write_fault)
        if branch is None:
            return None
        L = self.layout
        t[L.value_index(pte_page(t[L.pte_index(proc, addr)]), cell)] = tag
        self.record_write(t, proc, addr, tag, cell)
        return branch

    def op_load(self, t: list[int], proc: int, addr: int) -> str | None:
        pte = t[self.layout.pte_index(proc, addr)]
        if pte & PTE_SWAP:
            return self.swap_in(t, proc, addr, write=False) + "+read"
        return "read" if pte else None
