"""fork() (dup_mmap / copy_present_pte) and exit."""

from __future__ import annotations

from modelcheck.cow.layout import (MM_EXITED, PTE_SOFTDIRTY, PTE_SWAP, PTE_SWAP_EXCLUSIVE, PTE_WRITE, VMA_DONTFORK,
                                   VMA_WRITE, pte_make, pte_page)
from modelcheck.cow.policies import ForkPage


class ForkExit:
    """Mixed into ``CowModel``."""

    def op_fork(self, t: list[int]) -> str | None:
        """The parent forks child nforks+1; each private page is shared write-protected or copied for the child.

        VM_DONTFORK ranges are not copied; pipes and GUP references are not
        inherited; the child's mm starts with no MMF_HAS_PINNED.
        """
        L = self.layout
        M = L.addresses
        child = t[0] + 1
        if child >= L.processes:
            return None
        t[0] = child
        copied = False
        for a in range(M):
            if L.features.vma:
                flags = t[L.vma_base + a]
                t[L.vma_base + child * M + a] = flags
                if flags & VMA_DONTFORK:
                    continue
            pte = t[1 + a]
            if not pte:
                continue
            if pte & PTE_SWAP:  # swap_duplicate; neither PTE is exclusive any more
                t[1 + a] = t[1 + child * M + a] = pte & ~PTE_SWAP_EXCLUSIVE
                self._inherit_writes(t, child, a)
                continue
            page = pte_page(pte)
            if self.policy.fork_page(self.info(t, page, 0)) is ForkPage.COPY:
                # copy_present_page: the child gets a private copy now, writable if VM_WRITE
                new = self.copy_page(t, page)
                writable = not L.features.vma or bool(t[L.vma_base + a] & VMA_WRITE)
                t[1 + child * M + a] = pte_make(new, writable, pte & PTE_SOFTDIRTY)
                copied = True
            else:
                shared = pte & ~PTE_WRITE
                t[1 + a] = shared
                t[1 + child * M + a] = shared
                self.set_exclusive(t, page, False)
            self._inherit_writes(t, child, a)
        self.flush_mm(t, 0)  # dup_mmap flushes the parent's TLB before dropping mmap_lock
        return "fork_copy" if copied else "fork_share"

    def _inherit_writes(self, t: list[int], child: int, addr: int) -> None:
        L = self.layout
        if L.features.last_write:
            for cell in range(L.features.cells):
                t[L.last_index(child, addr, cell)] = t[L.last_index(0, addr, cell)]

    def op_exit(self, t: list[int], proc: int) -> str | None:
        """The process's mappings, pipe and GUP references are dropped (the pins of an io_uring go with it)."""
        L = self.layout
        for a in range(L.addresses):
            k = L.pte_index(proc, a)
            pte = t[k]
            if pte:
                t[k] = 0
                self.release(t, pte_page(pte))  # a mapping's reference, or a swap PTE's slot
            self.forget_writes(t, proc, a)
            self.clear_write_protect_request(t, proc, a)
        self.op_pipe_read(t, proc)  # the pipe's reference goes, if it holds one
        for n, h in enumerate(self.holders):
            if h.proc == proc and t[L.holder_base + n]:
                self.op_put(t, n)
        t[L.mm_base + proc] |= MM_EXITED
        self.flush_mm(t, proc)
        return "exit"

    def op_munmap(self, t: list[int], proc: int, addr: int) -> str | None:
        L = self.layout
        k = L.pte_index(proc, addr)
        pte = t[k]
        if not pte:
            return None
        t[k] = 0
        self.release(t, pte_page(pte))
        f = L.features
        if f.tlb:
            self.flush_address(t, proc, addr)
        if f.last_write:
            self.forget_writes(t, proc, addr)
        if f.write_protect:
            self.clear_write_protect_request(t, proc, addr)
        return "munmap"
