"""Write-protecting operations: mprotect, madvise(MADV_DONTFORK), clear_refs soft-dirty reset, uffd-wp."""

from __future__ import annotations

from modelcheck.cow.layout import PTE_SOFTDIRTY, PTE_SWAP, PTE_UFFD_WP, PTE_WRITE, VMA_DONTFORK, VMA_WRITE, pte_page


class WriteProtect:
    """Mixed into ``CowModel``."""

    def op_mprotect_ro(self, t: list[int], proc: int, addr: int) -> str | None:
        L = self.layout
        t[L.vma_base + proc * L.addresses + addr] &= ~VMA_WRITE
        return self._wrprotect_pte(t, proc, addr, 0)

    def op_mprotect_rw(self, t: list[int], proc: int, addr: int) -> str | None:
        """VM_WRITE again; a private anonymous PTE stays read-only unless the policy upgrades it (6.0)."""
        L = self.layout
        t[L.vma_base + proc * L.addresses + addr] |= VMA_WRITE
        self.clear_write_protect_request(t, proc, addr)
        k = L.pte_index(proc, addr)
        pte = t[k]
        if pte and not pte & (PTE_WRITE | PTE_UFFD_WP | PTE_SWAP):
            soft_dirty = not self._pte_flag_bits or bool(pte & PTE_SOFTDIRTY)
            if self.policy.mprotect_makes_writable(self.info(t, pte_page(pte), proc), soft_dirty):
                t[k] = pte | PTE_WRITE
                return "mprotect_upgrade"
        return "mprotect_rw"

    def op_dontfork(self, t: list[int], proc: int, addr: int) -> str | None:
        L = self.layout
        t[L.vma_base + proc * L.addresses + addr] |= VMA_DONTFORK
        return "dontfork"

    def op_clear_refs(self, t: list[int], proc: int) -> str | None:
        """Soft-dirty reset of every PTE of the process (clear_refs_write with 4)."""
        L = self.layout
        branches = []
        for a in range(L.addresses):
            k = L.pte_index(proc, a)
            pte = t[k]
            if not pte or pte & PTE_SWAP:
                continue
            if self.policy.clear_refs_skips(self.info(t, pte_page(pte), proc), bool(pte & PTE_WRITE)):
                branches.append("skip_pinned")  # left writable and soft-dirty: a write is still recorded
                continue
            t[k] = pte & ~(PTE_WRITE | PTE_SOFTDIRTY)
        return "clear_refs" + "".join(f"+{b}" for b in sorted(set(branches)))

    def op_uffd_wp(self, t: list[int], proc: int, addr: int) -> str | None:
        """UFFDIO_WRITEPROTECT on: the uffd-wp bit, and no write bit."""
        L = self.layout
        k = L.pte_index(proc, addr)
        if not t[k]:
            return None
        return self._wrprotect_pte(t, proc, addr, PTE_UFFD_WP)

    def op_uffd_unwp(self, t: list[int], proc: int, addr: int) -> str | None:
        """UFFDIO_WRITEPROTECT off: the bit goes, and the write bit with it.

        Nadav Amit's analysis for 6ce64428d620: unprotecting "unintentionally
        *clears* the RW-bit if it was already set" (a valid request when a range
        mixes protected and unprotected PTEs), so the next store write-faults and
        the TLB flush is deferred like a protect's.
        """
        L = self.layout
        k = L.pte_index(proc, addr)
        if not t[k]:
            return None
        t[k] &= ~(PTE_UFFD_WP | PTE_WRITE)
        self.clear_write_protect_request(t, proc, addr)
        return "uffd_unwp"

    def complete_write_protect(self, t: list[int], proc: int, kind: str, addr: int) -> None:
        """The system call returned: from now on a store must fault (wrprotect_effective)."""
        L = self.layout
        if kind in ("mprotect_ro", "uffd_wp"):
            self.request_write_protect(t, proc, addr)
        elif kind == "clear_refs":
            for a in range(L.addresses):
                pte = t[L.pte_index(proc, a)]
                if pte and not pte & (PTE_WRITE | PTE_SOFTDIRTY | PTE_SWAP):  # write-protected and clean
                    self.request_write_protect(t, proc, a)

    def _wrprotect_pte(self, t: list[int], proc: int, addr: int, bits: int) -> str:
        L = self.layout
        k = L.pte_index(proc, addr)
        pte = t[k]
        if not pte or pte & PTE_SWAP:
            return "wrprotect"
        if pte & PTE_WRITE and self.policy.wrprotect_skips(self.info(t, pte_page(pte), proc)):
            return "wrprotect+skip_pinned"
        t[k] = (pte & ~PTE_WRITE) | bits
        return "wrprotect"
