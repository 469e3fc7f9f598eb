"""Ghost state: facts the invariants need that the kernel does not keep.

``last``: the owner's last completed write to each address (CPU store or DMA
through its GUP reference), for no_lost_write. ``wp``: a write-protection the
owner asked for (mprotect(PROT_READ), uffd-wp, clear_refs) that no fault has
answered yet, for wrprotect_effective. Each exists only when its invariant is
checked, so it never splits the states of other runs.
"""

from __future__ import annotations

from modelcheck.cow.kernel import Machine, MutableSlots


def record_write(m: Machine, t: MutableSlots, proc: int, addr: int, tag: int, cell: int = 0) -> None:
    L = m.layout
    if L.features.last_write:
        t[L.last_index(proc, addr, cell)] = tag


def forget_writes(m: Machine, t: MutableSlots, proc: int, addr: int) -> None:
    for cell in range(m.layout.features.cells):
        record_write(m, t, proc, addr, 0, cell)


def request_write_protect(m: Machine, t: MutableSlots, proc: int, addr: int) -> None:
    L = m.layout
    if L.features.write_protect:
        t[L.wp_base + proc * L.addresses + addr] = 1


def clear_write_protect_request(m: Machine, t: MutableSlots, proc: int, addr: int) -> None:
    L = m.layout
    if L.features.write_protect:
        t[L.wp_base + proc * L.addresses + addr] = 0
