"""UFFDIO_CONTINUE on a shmem mapping registered for minor faults (c949b097ef2e and 153132571f02, v5.14).

A VMA of a shmem file registered with UFFDIO_REGISTER_MODE_MINOR hands every fault that finds the page in the
page cache to its userfaultfd (``faults.minor_fault_raised``); the handler answers with UFFDIO_CONTINUE, which
maps that page where nothing is mapped (``faults.uffd_continue_install``: read-only in a private mapping, dirty
from 9ae0f87d009c). The world registers, for minor faults, every address a thread of the scenario calls
UFFDIO_CONTINUE on, and resolves each minor fault as its handler would: with UFFDIO_CONTINUE. A thread may also
call it at any time, with no fault pending, as CVE-2022-2590's reproducer does: only an empty PTE is filled
(-EEXIST on a mapped one). Read in the 5.19 and 7.1.5 trees (mm/userfaultfd.c: mfill_atomic_install_pte;
mm/shmem.c: the minor-fault hand-off; include/linux/userfaultfd_k.h: vma_can_userfault, shmem or hugetlb only).
"""

from __future__ import annotations

from modelcheck.cow.kernel import Kernel, MutableSlots
from modelcheck.cow.mechanisms.faults import uffd_continue_install
from modelcheck.cow.registry import Branch, operation, outcome


class Continuing(Branch):
    CONTINUE_EEXIST = outcome("uffd_continue_eexist", "UFFDIO_CONTINUE fails with EEXIST: a page is mapped there")
    CONTINUE_REFUSED = ("uffd_continue_refused", "UFFDIO_CONTINUE fails: the kernel has no minor faults on shmem, "
                                                 "so the registration failed (EINVAL) ({policy})")


@operation("uffd_continue aN", Continuing, summary="UFFDIO_CONTINUE on aN, a shmem mapping registered for minor "
           "faults (its handler answers every minor fault so): the page-cache page is mapped where nothing is",
           note="UFFDIO_CONTINUE: aN is registered for minor faults, which it resolves",
           needs=("minor", "dirty_ptes"))
def op_uffd_continue(k: Kernel, t: MutableSlots, proc: int, addr: int) -> str | None:
    if not k.policy.uffd_minor_shmem:
        return "uffd_continue_refused"
    if t[k.layout.pte_index(proc, addr)]:
        return "uffd_continue_eexist"
    return uffd_continue_install(k, t, proc, addr)
