"""CPUs with TLBs: cached translations that can be stale, deferred flushes, and the copy fault in two steps.

Each thread runs on its own CPU. A store whose CPU caches a writable
translation goes straight to that page (the PTE is not looked at), so a PTE
that was write-protected but not yet flushed is no protection. The kernel's
write-protecting paths therefore change PTEs, raise mm->tlb_flush_pending, and
flush in a second step before the system call returns (clear_refs before
912efa17e512 did not flush at all). wp_page_copy() copies the old page before
it takes the page-table lock, flushes and installs the new PTE: between the two
steps a stale writable entry elsewhere can still write the old page, which is
the uffd-wp lost write Nadav Amit found (6ce64428d620).

An operation split in steps keeps its thread at the same program counter;
``step`` counts how far it got, ``fault`` holds the pages of a copy in flight
(both referenced by the fault, as do_wp_page's get_page does).
"""

from __future__ import annotations

from modelcheck.cow.layout import (MM_FLUSH_PENDING, PTE_SOFTDIRTY, PTE_SWAP, PTE_UFFD_WP, PTE_WRITE,
                                   TLB_WRITE, VMA_UFFD_WP, pte_make, pte_page)
from modelcheck.cow.policies import WriteFault

PARTIAL = frozenset({"copy_start", "copy_retry", "flush_pending"})  # branches that leave the thread mid-operation


class Tlb:
    """Mixed into ``CowModel``."""

    _threads_of: tuple[tuple[int, ...], ...]  # thread numbers per process

    # -- translations ------------------------------------------------------------------
    def tlb_index(self, thread: int, addr: int) -> int:
        L = self.layout
        return L.tlb_base + thread * L.addresses + addr

    def tlb_fill(self, t: list[int], thread: int, proc: int, addr: int) -> None:
        pte = t[self.layout.pte_index(proc, addr)]
        present = pte and not pte & PTE_SWAP
        t[self.tlb_index(thread, addr)] = ((pte_page(pte) + 1) << 1 | (pte & PTE_WRITE)) if present else 0

    def flush_address(self, t: list[int], proc: int, addr: int) -> None:
        """flush_tlb_page on every CPU running the mm (a no-op in a world without TLBs)."""
        if self.layout.features.tlb:
            for thread in self._threads_of[proc]:
                t[self.tlb_index(thread, addr)] = 0

    def flush_mm(self, t: list[int], proc: int) -> None:
        if self.layout.features.tlb:
            for addr in range(self.layout.addresses):
                self.flush_address(t, proc, addr)

    def flush_pending(self, t, proc: int) -> bool:
        return t[self.layout.mm_base + proc] >= MM_FLUSH_PENDING

    def tlb_page(self, s, thread: int, addr: int) -> int:
        """The page a CPU reaches through its cached translation, or -1."""
        return (s[self.tlb_index(thread, addr)] >> 1) - 1

    # -- CPU accesses through the TLB ------------------------------------------------------
    def op_tlb_load(self, t: list[int], thread: int, proc: int, addr: int) -> str | None:
        if t[self.tlb_index(thread, addr)]:
            return "tlb_read"
        pte = t[self.layout.pte_index(proc, addr)]
        if not pte:
            return None
        branch = self.swap_in(t, proc, addr, write=False) + "+read" if pte & PTE_SWAP else "read"
        self.tlb_fill(t, thread, proc, addr)
        return branch

    def op_tlb_store(self, t: list[int], thread: int, proc: int, addr: int, cell: int, tag: int) -> str | None:
        L = self.layout
        fi = L.fault_base + thread
        if t[fi]:
            return self._install_copy(t, thread, proc, addr, cell, tag)
        entry = t[self.tlb_index(thread, addr)]
        if entry & TLB_WRITE:  # a cached writable translation: the PTE is not looked at
            t[L.value_index((entry >> 1) - 1, cell)] = tag
            self.record_write(t, proc, addr, tag, cell)
            return "tlb_write"
        branch = self.store_walk(t, proc, addr,
                                 lambda t, proc, addr: self._fault_first_step(t, thread, proc, addr))
        if branch is None or branch.endswith("copy_start"):
            return branch  # a copying fault completes the store when the copy is installed
        k = L.pte_index(proc, addr)
        t[L.value_index(pte_page(t[k]), cell)] = tag
        self.record_write(t, proc, addr, tag, cell)
        self.tlb_fill(t, thread, proc, addr)
        return branch

    def flush_before_wp_fault(self, t: list[int], proc: int, addr: int) -> str:
        """6ce64428d620: in a uffd-wp VMA, a write fault first flushes what a concurrent change left pending."""
        L = self.layout
        if (self.policy.flushes_pending_tlb_before_wp_fault and L.features.tlb and L.features.vma
                and t[L.vma_base + proc * L.addresses + addr] & VMA_UFFD_WP and self.flush_pending(t, proc)):
            self.flush_address(t, proc, addr)
            return "flush_before_fault+"
        return ""

    def _fault_first_step(self, t: list[int], thread: int, proc: int, addr: int) -> str | None:
        """do_wp_page under the page-table lock: reuse at once, or start wp_page_copy (copy the old page)."""
        L = self.layout
        page = pte_page(t[L.pte_index(proc, addr)])
        branch, decision = self.decide_write_fault(t, proc, addr)
        if decision is WriteFault.WAIT:
            return None
        if decision is WriteFault.REUSE:
            return branch + self.reuse_page(t, proc, addr)
        new = self.copy_page(t, page)
        t[L.fault_base + thread] = (new + 1) | (page + 1) << 8
        return branch + "copy+copy_start"

    def _install_copy(self, t: list[int], thread: int, proc: int, addr: int, cell: int, tag: int) -> str:
        """wp_page_copy's second half: if the PTE still maps the old page, flush it and install the copy."""
        L = self.layout
        fi = L.fault_base + thread
        new, old = (t[fi] & 255) - 1, (t[fi] >> 8) - 1
        t[fi] = 0
        k = L.pte_index(proc, addr)
        pte = t[k]
        if not pte or pte & (PTE_SWAP | PTE_WRITE) or pte_page(pte) != old:
            self.release(t, new)  # the PTE changed meanwhile: drop the copy, fault again
            self.release(t, old)
            return "copy_retry"
        self.flush_address(t, proc, addr)  # ptep_clear_flush
        writable = self.vma_writable(t, proc, addr)
        soft_dirty = PTE_SOFTDIRTY if self._pte_flag_bits else 0
        t[k] = pte_make(new, writable, soft_dirty | (pte & PTE_UFFD_WP))
        self.release(t, old)
        self.clear_write_protect_request(t, proc, addr)
        t[L.value_index(new, cell)] = tag
        self.record_write(t, proc, addr, tag, cell)
        self.tlb_fill(t, thread, proc, addr)
        return "copy_install"

    # -- write-protection with a deferred flush ---------------------------------------------------
    def two_step(self, t: list[int], thread: int, proc: int, change, flush_addr: int, *args) -> str | None:
        """First the PTE change under the lock with tlb_flush_pending raised; then the flush, and return."""
        L = self.layout
        si = L.step_base + thread
        if t[si] == 0:
            branch = change(t, *args)
            if branch is None:
                return None
            t[L.mm_base + proc] += MM_FLUSH_PENDING
            t[si] = 1
            return branch + "+flush_pending"
        t[si] = 0
        t[L.mm_base + proc] -= MM_FLUSH_PENDING
        if flush_addr < 0:
            self.flush_mm(t, proc)
        else:
            self.flush_address(t, proc, flush_addr)
        return "tlb_flush"
