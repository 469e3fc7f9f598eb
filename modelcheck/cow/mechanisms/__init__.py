"""The kernel's mechanisms, one module each: plain functions of a ``Kernel`` (``cow.kernel``).

Each mechanism works on a mutable copy ``t`` of the state tuple and returns
the branch it took (a short name such as ``reuse`` or ``fork_copy``, declared
with the mechanism: ``registry``), or None when the operation is not enabled
in that state.
"""

from modelcheck.cow.mechanisms import (cpu, events, faults, force, fork, ghost, gup, ksm, memory, migrate, ordering,
                                      swap, thp, tlb, uffd_minor, uffd_move, vma, wrprotect)

# the order in which the operations of a scenario are listed for people: accesses, the address space,
# write-protection, references, forced writes, moves, minor faults, reclaim, KSM, ordering between threads
PRESENTATION = (cpu, fork, vma, wrprotect, gup, force, uffd_move, uffd_minor, swap, ksm, ordering)

__all__ = ["PRESENTATION", "cpu", "events", "faults", "force", "fork", "ghost", "gup", "ksm", "memory", "migrate",
           "ordering",
           "swap", "thp", "tlb", "uffd_minor", "uffd_move", "vma", "wrprotect"]
