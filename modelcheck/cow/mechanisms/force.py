"""FOLL_FORCE writes: ptrace(PTRACE_POKEDATA) or a write to /proc/pid/mem into a read-only private mapping.

get_user_pages with FOLL_FORCE|FOLL_WRITE, under mmap_lock for reading, in two steps a racing MADV_DONTNEED
may come between: follow_page_pte asks whether it may write through the PTE it finds (the policy's
``forced_write_follows``: can_follow_write_pte); if not, faultin_page takes a write fault (a forced one: in a
VMA without VM_WRITE the reused or copied page stays mapped read-only, dirty) and the lookup is retried.
A write fault answered by reuse or copy (VM_FAULT_WRITE) marks the GUP as having broken COW: FOLL_COW from
19be0eaffa3a; before it (``dirty_cow``) the retry dropped FOLL_WRITE, so an empty PTE then got a read fault
(the shared zero page, for an anonymous mapping) and whatever was mapped was written. The write lands in the
page the retry found (access_remote_vm copies into it) and is the owner's last write there.

In a private file mapping the COW fault copies the page-cache page and the read fault maps that page itself,
which Dirty COW then wrote (the file's contents: CVE-2016-5195 as exploited). In a shmem mapping registered
for minor faults, a fault on the empty PTE is a userfault: UFFDIO_CONTINUE maps the page-cache page and the
GUP starts over, without FOLL_COW. Any thread may call UFFDIO_CONTINUE between the COW fault and the retry,
and from 9ae0f87d009c (v5.16) the PTE it installs is read-only and dirty, which FOLL_COW followed
(CVE-2022-2590) until 5535be309971 asked for an exclusive anonymous page instead.
"""

from __future__ import annotations

from modelcheck.cow.kernel import Kernel, MutableSlots
from modelcheck.cow.layout import (FORCE_COWED, FORCE_FAULTED, PTE_DIRTY, PTE_SOFTDIRTY, PTE_UFFD_WP, PTE_WRITE,
                                   pte_page)
from modelcheck.cow.mechanisms.faults import first_touch, minor_fault, minor_fault_raised, write_fault
from modelcheck.cow.mechanisms.ghost import record_write
from modelcheck.cow.mechanisms.memory import info, is_anon
from modelcheck.cow.registry import Branch, operation, outcome


class ForcedWrite(Branch):
    FORCE_FOLLOW = ("force_follow", "the forced write goes through the read-only PTE ({policy})")
    FORCE_WRITABLE = outcome("force_writable")  # the PTE is writable: a plain write
    FORCE_RETRY = outcome("force_retry", "the forced write faulted; it looks at the PTE again (mmap_lock still held "
                                         "for reading)", partial=True)
    FORCE_READ_FAULT = ("force_read_fault", "the retry without FOLL_WRITE finds nothing mapped: a read fault maps "
                        "what a read would see ({policy})")
    FORCE_EFAULT = outcome("force_efault", "nothing is mapped there: the write fails (EFAULT)")


@operation("force_write aN", ForcedWrite, summary="a FOLL_FORCE write (ptrace, /proc/pid/mem) into the process's own "
           "memory, read-only mappings included", note="ptrace or /proc/pid/mem: FOLL_FORCE|FOLL_WRITE",
           needs=("vma", "force"))
def op_force_write(k: Kernel, t: MutableSlots, thread: int, proc: int, addr: int, cell: int,
                   tag: int) -> str | None:
    L = k.layout
    fi = L.force_base + thread
    state = t[fi]
    i = L.pte_index(proc, addr)
    pte = t[i]
    prefix = ""
    if not pte:
        if addr not in k.fresh_addrs:
            t[fi] = 0
            return "force_efault"
        if minor_fault_raised(k, addr):
            # the fault's userfault is resolved by UFFDIO_CONTINUE and answers VM_FAULT_RETRY: GUP starts over
            # with the flags it was called with, FOLL_COW forgotten
            t[fi] = FORCE_FAULTED
            return minor_fault(k, t, proc, addr) + "+force_retry"
        if state == FORCE_COWED and k.policy.forced_write_drops_foll_write:
            prefix = first_touch(k, t, proc, addr, write=False) + "+force_read_fault+"  # FOLL_WRITE is gone
            pte = t[i]
        else:  # a write fault on an empty PTE: do_anonymous_page (no VM_FAULT_WRITE: no COW was broken)
            t[fi] = max(state, FORCE_FAULTED)
            return first_touch(k, t, proc, addr, write=True) + "+force_retry"
    if not pte & PTE_WRITE:
        page = pte_page(pte)
        # every anonymous page here was written; the zero page and a read-faulted page-cache page are mapped clean,
        # a page-cache page mapped by UFFDIO_CONTINUE may be dirty
        dirty = is_anon(k, page) or bool(pte & PTE_DIRTY)
        fault_needed = bool(pte & PTE_UFFD_WP) or (k.soft_dirty_on and not pte & PTE_SOFTDIRTY)
        page_info = info(k, t, page, proc)
        if not prefix and not k.policy.forced_write_follows(page_info, state == FORCE_COWED, dirty, fault_needed):
            fault = write_fault(k, t, proc, addr)
            if fault is None:
                return None  # waits for the page lock
            t[fi] = FORCE_COWED  # do_wp_page answered VM_FAULT_WRITE: reused or copied
            return fault + "+force_retry"
        prefix += "force_follow"
    else:
        prefix += "force_writable"
    t[fi] = 0
    t[L.value_index(pte_page(t[i]), cell)] = tag
    record_write(k, t, proc, addr, tag, cell)
    return prefix
