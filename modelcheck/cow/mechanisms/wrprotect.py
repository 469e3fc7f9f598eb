"""Write-protecting operations: mprotect, madvise(MADV_DONTFORK), clear_refs soft-dirty reset, uffd-wp."""

from __future__ import annotations

from modelcheck.cow.kernel import Kernel, Machine, MutableSlots
from modelcheck.cow.layout import PTE_SOFTDIRTY, PTE_SWAP, PTE_UFFD_WP, PTE_WRITE, VMA_DONTFORK, VMA_WRITE, pte_page
from modelcheck.cow.mechanisms.ghost import clear_write_protect_request, request_write_protect
from modelcheck.cow.mechanisms.memory import info


def op_mprotect_ro(k: Kernel, t: MutableSlots, proc: int, addr: int) -> str | None:
    L = k.layout
    t[L.vma_base + proc * L.addresses + addr] &= ~VMA_WRITE
    return wrprotect_pte(k, t, proc, addr, 0)


def op_mprotect_rw(k: Kernel, t: MutableSlots, proc: int, addr: int) -> str | None:
    """VM_WRITE again; a private anonymous PTE stays read-only unless the policy upgrades it (6.0)."""
    L = k.layout
    t[L.vma_base + proc * L.addresses + addr] |= VMA_WRITE
    clear_write_protect_request(k, t, proc, addr)
    i = L.pte_index(proc, addr)
    pte = t[i]
    if pte and not pte & (PTE_WRITE | PTE_UFFD_WP | PTE_SWAP):
        soft_dirty = not k.pte_flag_bits or bool(pte & PTE_SOFTDIRTY)
        if k.policy.mprotect_makes_writable(info(k, t, pte_page(pte), proc), soft_dirty):
            t[i] = pte | PTE_WRITE
            return "mprotect_upgrade"
    return "mprotect_rw"


def op_dontfork(k: Kernel, t: MutableSlots, proc: int, addr: int) -> str | None:
    L = k.layout
    t[L.vma_base + proc * L.addresses + addr] |= VMA_DONTFORK
    return "dontfork"


def op_clear_refs(k: Kernel, t: MutableSlots, proc: int) -> str | None:
    """Soft-dirty reset of every PTE of the process (clear_refs_write with 4)."""
    L = k.layout
    branches = []
    for a in range(L.addresses):
        i = L.pte_index(proc, a)
        pte = t[i]
        if not pte or pte & PTE_SWAP:
            continue
        if k.policy.clear_refs_skips(info(k, t, pte_page(pte), proc), bool(pte & PTE_WRITE)):
            branches.append("skip_pinned")  # left writable and soft-dirty: a write is still recorded
            continue
        t[i] = pte & ~(PTE_WRITE | PTE_SOFTDIRTY)
    return "clear_refs" + "".join(f"+{b}" for b in sorted(set(branches)))


def op_uffd_wp(k: Kernel, t: MutableSlots, proc: int, addr: int) -> str | None:
    """UFFDIO_WRITEPROTECT on: the uffd-wp bit, and no write bit."""
    i = k.layout.pte_index(proc, addr)
    if not t[i]:
        return None
    return wrprotect_pte(k, t, proc, addr, PTE_UFFD_WP)


def op_uffd_unwp(k: Kernel, t: MutableSlots, proc: int, addr: int) -> str | None:
    """UFFDIO_WRITEPROTECT off: the bit goes, and the write bit with it.

    Nadav Amit's analysis for 6ce64428d620: unprotecting "unintentionally
    *clears* the RW-bit if it was already set" (a valid request when a range
    mixes protected and unprotected PTEs), so the next store write-faults and
    the TLB flush is deferred like a protect's.
    """
    i = k.layout.pte_index(proc, addr)
    if not t[i]:
        return None
    t[i] &= ~(PTE_UFFD_WP | PTE_WRITE)
    clear_write_protect_request(k, t, proc, addr)
    return "uffd_unwp"


def complete_write_protect(m: Machine, t: MutableSlots, proc: int, kind: str, addr: int) -> None:
    """The system call returned: from now on a store must fault (wrprotect_effective)."""
    L = m.layout
    if kind in ("mprotect_ro", "uffd_wp"):
        request_write_protect(m, t, proc, addr)
    elif kind == "clear_refs":
        for a in range(L.addresses):
            pte = t[L.pte_index(proc, a)]
            if pte and not pte & (PTE_WRITE | PTE_SOFTDIRTY | PTE_SWAP):  # write-protected and clean
                request_write_protect(m, t, proc, a)


def wrprotect_pte(k: Kernel, t: MutableSlots, proc: int, addr: int, bits: int) -> str:
    L = k.layout
    i = L.pte_index(proc, addr)
    pte = t[i]
    if not pte or pte & PTE_SWAP:
        return "wrprotect"
    if pte & PTE_WRITE and k.policy.wrprotect_skips(info(k, t, pte_page(pte), proc)):
        return "wrprotect+skip_pinned"
    t[i] = (pte & ~PTE_WRITE) | bits
    return "wrprotect"
