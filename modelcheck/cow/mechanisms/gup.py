"""get_user_pages: FOLL_GET and FOLL_PIN references, pipes filled by vmsplice, devices doing DMA."""

from __future__ import annotations

from typing import Callable

from modelcheck.cow.kernel import Kernel, Machine, MutableSlots, Slots
from modelcheck.cow.layout import MM_HAS_PINNED, PTE_FLAG_MASK, PTE_SWAP, PTE_UFFD_WP, PTE_WRITE, pte_page
from modelcheck.cow.mechanisms.faults import (LargeReuseInTwoLooks, large_fault_first_look,
                                              large_fault_second_look, uffd_wp_async, unshare_fault, write_fault)
from modelcheck.cow.mechanisms.ghost import clear_write_protect_request, record_write
from modelcheck.cow.mechanisms.memory import info, is_anon, release
from modelcheck.cow.mechanisms.mmap_lock import fork_in_progress
from modelcheck.cow.mechanisms.thp import pmd_mapped
from modelcheck.cow.mechanisms.swap import swap_in
from modelcheck.cow.policies import GupFirst, GupRequest
from modelcheck.cow.registry import Branch, batch_twin, in_steps, mechanism, operation, outcome


class GupBranch(Branch):
    """What get_user_pages does before it takes its reference."""

    GUP = outcome("gup")  # took a reference to what is mapped
    GUP_WRITE_FAULT = "gup_write_fault", "GUP with FOLL_WRITE on a read-only PTE: a write fault first"
    GUP_COW_BREAK = "gup_cow_break", "GUP breaks COW first: a write fault although the GUP only reads ({policy})"
    UFFD_FAULT = "uffd_fault", "the write fault hits a uffd-wp PTE: a userfault is raised and resolved"
    GUP_REFUSED = ("gup_refused", "check_vma_flags refuses the GUP (-EFAULT): a long-term writable pin of a "
                   "shared file mapping that needs dirty tracking ({policy})")
    IOURING_REFUSED = ("iouring_refused", "io_uring refuses the buffer (-EOPNOTSUPP): it is file-backed memory, "
                       "and the pages it pinned are unpinned ({policy})")


class FastBranch(Branch):
    """GUP-fast: the lockless walk takes the page as mapped, or gives up and leaves it to the slow path."""

    GUP_FAST = ("gup_fast", "GUP-fast pins the page as mapped: a present, accessible, normal PTE that needs no "
                "fault, unsharing or refusal first")
    GUP_FAST_FALLBACK = ("gup_fast_fallback", "GUP-fast gives up (nothing mapped, a swap entry, the zero page's "
                         "special PTE, a R/O PTE for a write, a page to unshare or a file page it may not pin "
                         "({policy})): the slow path, under mmap_lock")
    GUP_FAST_PINNED = outcome("gup_fast_pinned", "the lockless walk read a PTE it may take and pinned its page; "
                              "it looks at the PTE again next", partial=True)
    GUP_FAST_UNPIN = ("gup_fast_unpin", "GUP-fast looks again and unpins: the PTE changed under it, the page is to "
                      "be unshared, or a fork ran since it began (write_protect_seq, {policy})")
    GUP_FAST_SEQ = ("gup_fast_seq", "GUP-fast does not walk: fork is copying the page tables (write_protect_seq "
                    "is odd, {policy})")
    GUP_FAST_WAIT = outcome("gup_fast_wait", "GUP-fast fell back to the slow path, which waits for mmap_lock "
                            "(fork holds it)", partial=True)


class Holding(Branch):
    """A reference taken before, used or dropped."""

    PUT = outcome("put")
    DMA_WRITE = outcome("dma_write")
    DMA_READ = outcome("dma_read")
    PIPE_READ = outcome("pipe_read")


@mechanism(GupBranch)
@batch_twin("ReferenceBatch._vmsplice")
def gup_prepare(k: Kernel, t: MutableSlots, proc: int, addr: int, write: bool, pin: bool,
                longterm: bool, fault: Callable[[Kernel, MutableSlots, int, int], str | None] = write_fault
                ) -> str | None:
    """Fault the page in as the policy asks before a reference is taken; None when nothing is mapped,
    "gup_refused" when check_vma_flags fails the call (no reference is taken). ``fault``: the write fault
    (``gup_in_steps`` passes the first of 6.15's two looks at a large folio)."""
    L = k.layout
    i = L.pte_index(proc, addr)
    pte = t[i]
    if not pte:
        return None
    if pin and L.features.mm:
        t[L.mm_base + proc] |= MM_HAS_PINNED  # set before any page is pinned, never cleared
    if addr in k.file_maps and k.policy.gup_refuses(k.gup_request(write, pin, longterm, bool(pte & PTE_WRITE), addr)):
        return "gup_refused"
    swapped = ""
    if pte & PTE_SWAP:  # faultin_page: a swap-in fault first (a write one for FOLL_WRITE)
        swapped = swap_in(k, t, proc, addr, write=write and not pte & PTE_UFFD_WP) + "+"
        pte = t[i]
    first = k.policy.gup(k.gup_request(write, pin, longterm, bool(pte & PTE_WRITE), addr),
                         info(k, t, pte_page(pte), proc))
    if first is GupFirst.WRITE_FAULT and not pte & PTE_WRITE:
        # a forced COW break on a read GUP is what 17839856fd58 did; on a uffd-wp PTE it raises
        # a userfault, which the handler resolves by write-unprotecting (an async one: the fault clears it)
        uffd = "uffd_fault+" if pte & PTE_UFFD_WP and not uffd_wp_async(k, t, proc, addr) else ""
        if uffd:
            t[i] = pte & ~PTE_UFFD_WP
            clear_write_protect_request(k, t, proc, addr)
        faulted = fault(k, t, proc, addr)
        if faulted is None:
            return None  # waits for the page lock
        return swapped + uffd + ("gup_write_fault+" if write else "gup_cow_break+") + faulted
    if first is GupFirst.UNSHARE and not pte & PTE_WRITE:
        return swapped + unshare_fault(k, t, proc, addr)
    return swapped + "gup"


@operation("vmsplice aN", GupBranch, summary="a read-only FOLL_GET reference held by the process's pipe",
           needs=("pipes",))
@batch_twin("ReferenceBatch._vmsplice")
def op_vmsplice(k: Kernel, t: MutableSlots, proc: int, addr: int) -> str | None:
    """vmsplice(): a read FOLL_GET through get_user_pages_fast, held by the process's pipe."""
    L = k.layout
    if t[L.pipe_base + proc]:
        return None
    branch = gup_prepare(k, t, proc, addr, write=False, pin=False, longterm=False)
    if branch is None:
        return None
    t[L.pipe_base + proc] = pte_page(t[L.pte_index(proc, addr)]) + 1
    return branch


@operation("pipe_read", Holding, summary="read the pipe (an observation) and drop its reference", needs=("pipes",))
@batch_twin("ReferenceBatch.expand")
def op_pipe_read(k: Kernel, t: MutableSlots, proc: int) -> str | None:
    L = k.layout
    i = L.pipe_base + proc
    if L.pipe_base == L.value_base or not t[i]:  # no pipes in this world, or an empty one
        return None
    page = t[i] - 1
    t[i] = 0
    release(k, t, page)
    return "pipe_read"


# (decorators apply from the bottom up: get_ro is declared first)
@operation("pin_rw_short aN -> NAME", GupBranch, summary="FOLL_PIN|FOLL_WRITE without FOLL_LONGTERM (a short-term "
           "pin: what most pin_user_pages users take)", needs=("mm",), reference="pin", foll_write=True)
@operation("pin_ro_short aN -> NAME", GupBranch, summary="FOLL_PIN without FOLL_LONGTERM, read-only (a short-term "
           "pin)", needs=("mm",), reference="pin")
@operation("pin_rw aN -> NAME", GupBranch, summary="FOLL_PIN|FOLL_WRITE|FOLL_LONGTERM (io_uring fixed buffer, RDMA, "
           "VFIO)", needs=("mm",), reference="pin", foll_write=True, longterm=True)
@operation("pin_ro aN -> NAME", GupBranch, summary="FOLL_PIN|FOLL_LONGTERM, read-only (gup_test's R/O pin)",
           needs=("mm",), reference="pin", longterm=True)
@operation("get_rw aN -> NAME", GupBranch, summary="FOLL_GET|FOLL_WRITE (a driver's get_user_pages)", needs=("mm",),
           reference="get", foll_write=True)
@operation("get_ro aN -> NAME", GupBranch, summary="FOLL_GET, read-only, held as NAME",
           note="FOLL_GET / FOLL_PIN|FOLL_LONGTERM references: drivers, io_uring, RDMA, VFIO, gup_test; `_short`: "
                "FOLL_PIN without FOLL_LONGTERM",
           needs=("mm",), reference="get")
def op_gup(k: Kernel, t: MutableSlots, holder: int) -> str | None:
    """Take the scenario's GUP reference number ``holder``."""
    return take_reference(k, t, holder)


@in_steps("get_rw", "pin_rw", "pin_rw_short")
@mechanism(LargeReuseInTwoLooks, GupBranch)
def gup_in_steps(k: Kernel, t: MutableSlots, thread: int, holder: int) -> str | None:
    """A FOLL_WRITE GUP where 6.15's reuse of a large folio reads its counters in two looks: the write fault
    it raises (faultin_page, then do_wp_page) takes them in two steps, as a store's does, another process's
    steps or a speculative reference between; GUP follows the page once the fault is done, or retries from
    the start if the PTE changed meanwhile."""
    if not t[k.layout.step_base + thread]:
        return take_reference(k, t, holder, lambda k, t, proc, addr: large_fault_first_look(k, t, thread, proc,
                                                                                              addr))
    h = k.holders[holder]
    faulted = large_fault_second_look(k, t, thread, h.proc, h.addr)
    if faulted is None:
        return take_reference(k, t, holder)
    taken = take_reference(k, t, holder)  # the PTE is writable now: GUP takes its reference
    return None if taken is None else "gup_write_fault+" + faulted + "+" + taken


# (decorators apply from the bottom up: pin_ro_fast is declared first)
@operation("pin_rw_fast aN -> NAME", FastBranch, summary="pin_user_pages_fast with FOLL_WRITE|FOLL_LONGTERM (RDMA's "
           "ib_umem_get, gup_test's fast pins): the lockless walk, else the slow path",
           needs=("mm", "steps", "lockless"), reference="pin", foll_write=True, longterm=True)
@operation("pin_ro_fast aN -> NAME", FastBranch, summary="pin_user_pages_fast with FOLL_LONGTERM, read-only (cow.c's "
           "R/O GUP-fast pins)", note="GUP-fast (pin_user_pages_fast): the lockless walk, which leaves what it "
           "may not take to the slow path", needs=("mm", "steps", "lockless"), reference="pin", longterm=True)
def op_gup_fast(k: Kernel, t: MutableSlots, thread: int, holder: int) -> str | None:
    """pin_user_pages_fast (gup_fast and gup_fast_pte_range, 7.1.5 tree, mm/gup.c), in two steps without
    mmap_lock: set MMF_HAS_PINNED and, unless fork is copying the page tables (write_protect_seq odd, under
    57efa1fe5957), read the PTE and pin its page if the walk may take it (``fast_walk_reads``); then look at
    the PTE again and keep the pin only if it is unchanged, the page needs no unsharing and may be pinned
    (``fast_walk_keeps``) and no fork began meanwhile (the seqcount again). Anything else drops the pin and
    falls back to the slow path, which takes mmap_lock (and waits while fork holds it), faults, unshares or
    refuses as the policy says.

    The thread's step slot says where it is: 0 before the walk, 1 when the slow path waits for mmap_lock,
    else 2 + (the PTE's flag bits it read, and whether a PMD maps it: the entry gup_fast_pmd_leaf or
    gup_fast_pte_range compares) * P + (the forks done when it read it); the page it pinned is the
    holder's (so the slot names no page slot, and states stay interchangeable under page renaming)."""
    h = k.holders[holder]
    L = k.layout
    si = L.step_base + thread
    step = t[si]
    if step == 1:  # waiting for mmap_lock
        return None if fork_in_progress(k, t) else slow_path(k, t, si, holder)
    if step == 0:
        if L.features.mm:
            t[L.mm_base + h.proc] |= MM_HAS_PINNED  # before the walk
        if k.policy.fork_write_protect_seq and fork_in_progress(k, t):
            t[si] = 1  # the slow path waits for fork's mmap_lock
            return "gup_fast_seq+gup_fast_wait"
        pte = t[L.pte_index(h.proc, h.addr)]
        if not fast_walk_reads(k, t, pte, h.proc, h.addr, h.writable, h.longterm):
            branch = slow_path(k, t, si, holder)
            return branch if branch is None else "gup_fast_fallback+" + branch
        t[L.holder_base + holder] = pte_page(pte) + 1  # try_grab_folio_fast: the pin is taken
        t[si] = 2 + (entry_bits(k, t, h.proc, h.addr, pte)) * L.processes + t[0]
        return "gup_fast_pinned"
    read, forks = divmod(step - 2, L.processes)
    pinned = t[L.holder_base + holder] - 1
    pte = t[L.pte_index(h.proc, h.addr)]
    seq_moved = k.policy.fork_write_protect_seq and (t[0] != forks or fork_in_progress(k, t))
    if (pte_page(pte) == pinned and entry_bits(k, t, h.proc, h.addr, pte) == read and not seq_moved
            and fast_walk_keeps(k, t, h.proc, h.addr, h.writable, h.longterm)):
        t[si] = 0
        return "gup_fast"
    t[L.holder_base + holder] = 0  # gup_put_folio / gup_fast_unpin_user_pages
    release(k, t, pinned)
    return "gup_fast_unpin+" + (slow_path(k, t, si, holder) or "gup_fast_wait")


def entry_bits(k: Kernel, t: MutableSlots, proc: int, addr: int, pte: int) -> int:
    """What of the entry GUP-fast read it compares again besides the page: the PTE's flag bits, and whether
    it is a PMD's (a THP's range split meanwhile is another entry)."""
    huge = bool(k.folios_on and pmd_mapped(k, t, proc, addr))
    return (pte & PTE_FLAG_MASK) << 1 | huge


def slow_path(k: Kernel, t: MutableSlots, si: int, holder: int) -> str | None:
    """GUP-fast's fall-back: the slow path under mmap_lock, or, while fork holds it, a wait for it (step 1);
    None when it finds nothing mapped (the thread waits until something is)."""
    if fork_in_progress(k, t):
        t[si] = 1
        return "gup_fast_wait"
    branch = take_reference(k, t, holder)
    if branch is None:
        t[si] = 1
        return None
    t[si] = 0
    return branch


def fast_walk_reads(k: Kernel, t: MutableSlots, pte: int, proc: int, addr: int, write: bool, longterm: bool) -> bool:
    """What gup_fast_pte_range asks of the PTE before it grabs the page: present and normal (the zero page's
    PTE is special), allowing the access (pte_access_permitted: writable for FOLL_WRITE; every R/O PTE under
    17839856fd58, which walked with FOLL_WRITE forced: the policy's ``gup`` asks for a write fault)."""
    if not pte or pte & PTE_SWAP or pte_page(pte) == k.zero_page:
        return False
    if pte & PTE_WRITE:
        return True
    if write:
        return False
    page = pte_page(pte)
    return k.policy.gup(fast_request(k, page, addr, write, longterm, False),
                        info(k, t, page, proc)) is not GupFirst.WRITE_FAULT


def fast_walk_keeps(k: Kernel, t: MutableSlots, proc: int, addr: int, write: bool, longterm: bool) -> bool:
    """What gup_fast_pte_range asks after the grab, of the PTE it read (unchanged): a folio GUP-fast may pin
    (gup_fast_folio_allowed: a6e79df92e4a refuses a long-term writable pin of a file-backed folio but shmem's,
    as the slow path's 8ac268436e6d does, so the policy's gup_refuses is asked), and no unsharing
    (gup_must_unshare without a VMA: a read-only PTE of a page the policy would unshare in a COW mapping).
    The exclusive bit is read here, after the pin is taken: the order 088b8aa537c2's protocol relies on."""
    pte = t[k.layout.pte_index(proc, addr)]
    writable = bool(pte & PTE_WRITE)
    page = pte_page(pte)
    request = fast_request(k, page, addr, write, longterm, writable)
    if not request.anon_vma and k.policy.gup_refuses(request):
        return False
    return writable or k.policy.gup(request, info(k, t, page, proc)) is GupFirst.NOTHING


def fast_request(k: Kernel, page: int, addr: int, write: bool, longterm: bool, pte_writable: bool) -> GupRequest:
    """A FOLL_PIN of GUP-fast: it has no VMA, so it takes every mapping for a COW one (as 17839856fd58's
    forced FOLL_WRITE did for every mapping) and asks the folio whether it is anonymous."""
    return GupRequest(write=write, pin=True, longterm=longterm, pte_writable=pte_writable, cow_mapping=True,
                      anon_vma=is_anon(k, page), needs_dirty_tracking=k.needs_dirty_tracking(addr))


def fast_pin_in_flight(m: Machine, s: Slots, holder: int) -> bool:
    """The holder's pin is GUP-fast's, taken but not yet kept: the walk looks at the PTE again before it
    returns, and drops the pin if that changed (so no one can use the pin yet)."""
    L = m.layout
    if not L.features.steps:
        return False
    h = m.holders[holder]
    for n in m.threads_of[h.proc]:
        pc, program = s[L.pc_base + n], m.threads[n].program
        if s[L.step_base + n] >= 2 and pc < len(program) and program[pc].holder == h.name:
            return True
    return False


@operation("dio_write aN -> NAME", GupBranch, summary="O_DIRECT write from memory to a file: the device reads the "
           "page through NAME; FOLL_GET, FOLL_PIN from v6.5 (the era's, or [get]/[pin])", needs=("mm",),
           reference="era")
@operation("dio_read aN -> NAME", GupBranch, summary="O_DIRECT read from a file into memory: the device writes the "
           "page through NAME; FOLL_GET|FOLL_WRITE, FOLL_PIN|FOLL_WRITE from v6.5 (the era's, or [get]/[pin])",
           note="O_DIRECT: FOLL_GET, FOLL_PIN from v6.5 as the policy says, or as `[get]`/`[pin]` after NAME says",
           needs=("mm",), reference="era", foll_write=True)
def op_dio(k: Kernel, t: MutableSlots, holder: int) -> str | None:
    """Start an O_DIRECT transfer: the block layer takes the reference its era takes (``odirect_pins``: the
    machine resolved it when it was bound to the policy) and holds it until ``put``."""
    return take_reference(k, t, holder)


def take_reference(k: Kernel, t: MutableSlots, holder: int,
                   fault: Callable[[Kernel, MutableSlots, int, int], str | None] = write_fault) -> str | None:
    """GUP for the scenario's holder number ``holder``, as its kind and reference say; None if nothing is mapped."""
    h = k.holders[holder]
    branch = gup_prepare(k, t, h.proc, h.addr, h.writable, h.is_pin, h.longterm, fault)
    if branch is None or branch == "gup_refused" or branch.endswith("large_reuse_unlocked"):
        return branch
    L = k.layout
    t[L.holder_base + holder] = pte_page(t[L.pte_index(h.proc, h.addr)]) + 1
    return branch


@operation("iouring_register aN -> NAME", GupBranch, summary="io_uring_register_buffers(): FOLL_PIN|FOLL_WRITE|"
           "FOLL_LONGTERM, and io_uring's own refusal of file-backed memory before v6.5", needs=("mm",),
           note="io_uring_register_buffers(): a long-term writable pin; before v6.5 io_uring refuses file-backed "
                "memory itself",
           reference="pin", foll_write=True, longterm=True)
def op_iouring_register(k: Kernel, t: MutableSlots, holder: int) -> str | None:
    """Register a fixed buffer: io_pin_pages pins it long-term and writable; an io_uring that checks the VMAs
    itself (``iouring_refuses``, before v6.5) then unpins a file-backed one and fails."""
    h = k.holders[holder]
    branch = gup_prepare(k, t, h.proc, h.addr, h.writable, h.is_pin, h.longterm)
    if branch is None or branch == "gup_refused":
        return branch
    if k.policy.iouring_refuses(h.addr in k.file_maps and k.file_kind != "hugetlbfs"):  # (!is_file_hugepages)
        return branch + "+iouring_refused"
    t[k.layout.holder_base + holder] = pte_page(t[k.layout.pte_index(h.proc, h.addr)]) + 1
    return branch


@operation("dma_write NAME", Holding, summary="the device writes through NAME (completes a write for the owner)")
def op_dma_write(k: Kernel, t: MutableSlots, holder: int, tag: int) -> str | None:
    """The device writes through the reference; for its owner that write has completed."""
    L = k.layout
    page = t[L.holder_base + holder] - 1
    if page < 0:
        return None
    h = k.holders[holder]
    t[L.value_index(page, h.cell)] = tag
    record_write(k, t, h.proc, h.addr, tag, h.cell)
    return "dma_write"


@operation("dma_read NAME", Holding, summary="the device reads through NAME (an observation on the owner's behalf)")
def op_dma_read(k: Kernel, t: MutableSlots, holder: int) -> str | None:
    return "dma_read" if t[k.layout.holder_base + holder] else None


@operation("put NAME", Holding, summary="drop NAME (unpin / put_page / unregister)")
def op_put(k: Kernel, t: MutableSlots, holder: int) -> str | None:
    L = k.layout
    i = L.holder_base + holder
    if not t[i]:
        return None
    page = t[i] - 1
    t[i] = 0
    release(k, t, page)
    return "put"
