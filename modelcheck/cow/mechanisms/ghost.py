"""Ghost state: facts the invariants need that the kernel does not keep.

``last``: the owner's last completed write to each address (CPU store or DMA
through its GUP reference), for no_lost_write. ``wp``: a write-protection the
owner asked for (mprotect(PROT_READ), uffd-wp, clear_refs) that no fault has
answered yet, for wrprotect_effective. ``uffd``: an address write-protected
through a synchronous userfaultfd and not unprotected since, for
uffd_wp_effective (no store may complete there: it waits for the monitor).
``warned``: the kernel warnings a decision fired (``policies.KernelWarning``),
for no_kernel_warning. Each
exists only when an invariant that
needs it is checked (invariants declare it), so it never splits the states of
other runs.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import Enum

from modelcheck.cow.kernel import Machine, MutableSlots
from modelcheck.cow.policies import KernelWarning

WARNINGS = tuple(KernelWarning)  # bit n of ``warned``: the n-th of them has fired


class Ghost(Enum):
    """A piece of ghost state an invariant can ask the world to keep (a section of ``layout``)."""

    LAST_WRITE = "last_write"
    WRITE_PROTECT = "write_protect"
    UFFD_PROTECT = "uffd_protect"
    WARNINGS = "warnings"


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


def set_uffd_protected(m: Machine, t: MutableSlots, proc: int, addr: int, on: bool) -> None:
    L = m.layout
    if L.features.uffd_protect:
        t[L.uffd_base + proc * L.addresses + addr] = int(on)


def record_warnings(m: Machine, t: MutableSlots, fired: Iterable[KernelWarning]) -> None:
    """The VM_WARN_ON_ONCEs a decision fired, kept where no_kernel_warning is checked."""
    i = m.layout.warned_index
    if i >= 0:
        for warning in fired:
            t[i] |= 1 << WARNINGS.index(warning)
