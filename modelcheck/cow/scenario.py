"""Scenarios: a program per thread, and the kernel events allowed to interleave.

A program is a list of operations, one string each, such as ``store a0``,
``fork``, ``pin_rw a0 -> buf`` or ``put buf``. Each operation is declared
with its mechanism (``mechanisms/``): its form, what it does, what it needs of
the world (``operations``; the README's list is ``operations.operation_list()``).
``a0.1`` names another part of the same page (a page holds one value per part
the scenario uses). An operation written ``kind aN -> NAME`` takes a GUP
reference held as NAME; one written ``kind NAME`` uses it, in the same process.

With ``tlb=True`` each thread runs on its own CPU with its own TLB: a store
through a cached writable translation goes to that page without looking at the
PTE; write-protecting operations change PTEs first and flush the TLBs in a
second step (mm->tlb_flush_pending counts the flushes still owed); a copying
write fault copies first and installs (with a flush) in a second step, as
wp_page_copy() does.

Threads are named ``parent``, ``parent.2`` (a second thread of the parent),
``child1``, ``child1.2``, ...; a child's threads start when it is forked.
Kernel events: ``spec`` (speculative references, bounded by the world's S),
``lru`` (pages start in a per-CPU LRU batch that holds a reference until drained)
``swap`` (reclaim: a page enters the swap cache, later its PTEs become swap
PTEs; a later access swaps it back in) and ``lock`` (another kernel path holds a
page's lock for a while; one page at a time) and ``ksm`` (ksmd merges a page
into another of the same contents in VM_MERGEABLE areas: ``mechanisms.ksm``).

Ordering between threads, as cow.c's pipes and wait() give it: ``signal T``
marks the named one-shot token T (a byte written into a pipe), ``await T``
is enabled only once some thread has signalled T (the other side's read), and
``wait childN`` (a thread of the parent) only once child N's process has
exited: a child exits by an ``exit`` in its program; reaching the end of its
program is not an exit (its mappings, pipe and references stay, as a child
that blocks in cow.c keeps them), so a wait for a child whose program has no
``exit`` is refused. A token signalled twice, awaited but never signalled, a
wait for a child never forked, never exiting or waited for twice are refused
when the scenario is built; a thread that awaits for ever (two threads each
awaiting the other's token) makes every run vacuous.

Memory is private anonymous, written by the parent before the first step,
unless the scenario says otherwise: ``fresh`` addresses start untouched (their
first access faults a page in), and ``file`` with ``maps`` maps one page of a
file (``FILE_KINDS``: shmem, or a disk file that needs dirty tracking) at the
addresses named, MAP_PRIVATE or MAP_SHARED, untouched until the first access;
the page cache holds the file's page, so two mappings of the file (or a
mapping and a later read of it) see what a private write must not change.

A ``schedule`` (optional) pins the order of the first steps: a list of thread
names and kernel events, written as a trace labels them (``kernel
spec_get(page 0)``); step n of every execution is the schedule's entry n (a
thread's next step, or that event on that page), and once the schedule is done
every interleaving follows. An entry whose step is not enabled when its turn
comes ends the execution there. An exported counterexample (``reproduce``)
uses it to re-run its trace's very interleaving.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Mapping, Sequence

from modelcheck.cow.layout import MOST_THP_PAGES
from modelcheck.cow.operations import OPERATIONS, Form

EVENTS = ("spec", "lru", "swap", "lock", "ksm", "migrate")
# the kernel's steps, by the event that allows them (a trace labels one "kernel spec_get(page 0)")
EVENT_OF = {"spec_get": "spec", "spec_put": "spec", "lru_drain": "lru", "swap_add": "swap", "swap_unmap": "swap",
            "lock_page": "lock", "unlock_page": "lock", "ksm_merge": "ksm", "migrate": "migrate",
            "writeback_end": "writeback"}  # (no event to ask for: an operation that starts a writeback brings it)
ScheduleKey = tuple[str, str] | tuple[str, int]  # ("thread", name), or (kernel event, page)

_THREAD = re.compile(r"^(parent|child([1-9][0-9]*))(?:\.([2-9]|[1-9][0-9]+))?$")
_ADDR = re.compile(r"^a(0|[1-9][0-9]*)(?:\.(0|[1-9][0-9]*))?$")
_HOLDER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")  # a holder's or a token's name
_CHILD = re.compile(r"^child([1-9][0-9]*)$")
_KERNEL_STEP = re.compile(r"^kernel ([a-z_]+)\(page (0|[1-9][0-9]*)\)$")


class ScenarioError(ValueError):
    """A malformed scenario: says which thread, which operation, and what is wrong."""


@dataclass(frozen=True)
class Op:
    kind: str
    addr: int = -1
    holder: str = ""
    text: str = ""
    cell: int = 0  # which part of the page a store, load or DMA touches (aN.K), 0 by default
    reference: str = ""  # an O_DIRECT operation's reference as the scenario pins it down ([get] or [pin])
    child: int = 0  # the child a ``wait`` waits for
    token: str = ""  # the token a ``signal`` signals or an ``await`` awaits
    target: int = -1  # the second address of a two-address operation (``mremap a0 a1``: where a0 goes)


@dataclass(frozen=True)
class Thread:
    name: str
    proc: int  # 0 = the parent, i = child i
    program: tuple[Op, ...]
    cpu: int = 0  # the CPU it runs on (``cpus``): whose per-CPU LRU batch its new pages go into


REFERENCES = ("get", "pin")  # FOLL_GET, FOLL_PIN


@dataclass(frozen=True)
class Holder:
    """A GUP reference a scenario takes: who holds it, on which address, of which kind.

    ``reference`` is "get" (FOLL_GET) or "pin" (FOLL_PIN); an O_DIRECT one the scenario leaves to the era is
    "era" until the world is bound to a policy (``under``), whose ``odirect_pins`` says which."""

    name: str
    proc: int
    addr: int
    kind: str  # get_ro, get_rw, pin_ro, pin_rw, dio_read, dio_write
    cell: int = 0  # the part of the page the device reads or writes
    reference: str = "get"
    writable: bool = False  # FOLL_WRITE: the device writes the page (a pin_rw, or an O_DIRECT read from a file)
    longterm: bool = False  # FOLL_LONGTERM

    @property
    def is_pin(self) -> bool:
        return self.reference == "pin"

    def under(self, odirect_pins: bool) -> Holder:
        """The holder as an era takes it: an O_DIRECT reference left to the era becomes FOLL_PIN or FOLL_GET."""
        if self.reference != "era":
            return self
        return replace(self, reference="pin" if odirect_pins else "get")


def parse_op(text: str, where: str) -> Op:
    words = text.replace("->", " -> ").split()
    if not words:
        raise ScenarioError(f"{where}: empty operation")
    kind, args = words[0], words[1:]
    decl = OPERATIONS.get(kind)
    if decl is None:
        raise ScenarioError(f"{where}: unknown operation {kind!r} (known: {', '.join(sorted(OPERATIONS))})")

    def addr(word: str) -> tuple[int, int]:
        m = _ADDR.match(word)
        if not m:
            raise ScenarioError(f"{where}: {text!r}: {word!r} is not an address (a0, a1, ..., or a0.1 for "
                                f"another part of the same page)")
        return int(m.group(1)), int(m.group(2) or 0)

    def holder(word: str) -> str:
        if not _HOLDER.match(word):
            raise ScenarioError(f"{where}: {text!r}: {word!r} is not a holder name")
        return word

    form = decl.form
    if form is Form.PLAIN and not args:
        return Op(kind, text=text)
    if form is Form.ADDRESS and len(args) == 1:
        a, cell = addr(args[0])
        return Op(kind, addr=a, cell=cell, text=text)
    if form is Form.TAKES_HOLDER and len(args) == 4 and args[1] == "->" and decl.reference == "era":
        a, cell = addr(args[0])
        if args[3] not in (f"[{r}]" for r in REFERENCES):
            raise ScenarioError(f"{where}: {text!r}: {args[3]!r}: the reference is [get] (FOLL_GET) or [pin] "
                                "(FOLL_PIN); without it the era's")
        return Op(kind, addr=a, cell=cell, holder=holder(args[2]), text=text, reference=args[3][1:-1])
    if form is Form.TAKES_HOLDER and len(args) == 3 and args[1] == "->":
        a, cell = addr(args[0])
        return Op(kind, addr=a, cell=cell, holder=holder(args[2]), text=text)
    if form is Form.TWO_ADDRESSES and len(args) == 2:
        (a, cell), (b, other) = addr(args[0]), addr(args[1])
        if cell or other:
            raise ScenarioError(f"{where}: {text!r}: {kind} moves whole pages (write a0, not a0.1)")
        if a == b:
            raise ScenarioError(f"{where}: {text!r}: the old and the new address are the same (EINVAL)")
        return Op(kind, addr=a, target=b, text=text)
    if form is Form.USES_HOLDER and len(args) == 1:
        return Op(kind, holder=holder(args[0]), text=text)
    if form is Form.NAMES_CHILD and len(args) == 1:
        m = _CHILD.match(args[0])
        if not m:
            raise ScenarioError(f"{where}: {text!r}: {args[0]!r} is not a child (child1, child2, ...)")
        return Op(kind, child=int(m.group(1)), text=text)
    if form is Form.NAMES_TOKEN and len(args) == 1:
        if not _HOLDER.match(args[0]):
            raise ScenarioError(f"{where}: {text!r}: {args[0]!r} is not a token name")
        return Op(kind, token=args[0], text=text)
    suffix = ", optionally followed by [get] or [pin]" if decl.reference == "era" else ""
    raise ScenarioError(f"{where}: {text!r}: {kind} takes the form '{decl.written}'{suffix}")


@dataclass(frozen=True)
class Scenario:
    threads: tuple[Thread, ...]
    events: frozenset[str]
    holders: tuple[Holder, ...]
    processes: int
    addresses: int
    cells: int = 1
    tlb: bool = False
    schedule: tuple[ScheduleKey, ...] = ()  # the first steps, in order (see the module's docstring)
    tokens: tuple[str, ...] = ()  # the tokens the threads signal, in the order of their threads' programs
    fresh: frozenset[int] = frozenset()  # addresses that start unpopulated (mapped, never touched)
    file: str = ""  # the file the scenario maps (a key of FILE_KINDS), or "" for anonymous memory only
    maps: tuple[tuple[int, str], ...] = ()  # (address, "private" or "shared"): the file's mappings, unpopulated
    zapped: frozenset[int] = frozenset()  # addresses an operation may leave unpopulated, the VMA kept (DONTNEED, UFFDIO_MOVE)
    thp: int = 0  # pages of the THP at a0 .. a<thp-1> (an anonymous PMD-mapped THP in the parent), 0 for none
    hugetlb: bool = False  # every address is private anonymous hugetlb memory (MAP_HUGETLB): one huge page each
    thp_pte: bool = False  # the THP starts PTE-mapped (its PMD split), as cow.c's "PTE-mapped THP" runs make it

    @property
    def lockless_beside_fork(self) -> bool:
        """Some thread of the parent forks while another of its threads may walk the page table without
        mmap_lock (an operation that needs "lockless": GUP-fast), so fork runs in steps beside it."""
        return _lockless_beside_fork(self.threads)

    @property
    def untouched(self) -> frozenset[int]:
        """The addresses that start with no PTE: fresh ones and the file's mappings."""
        return self.fresh | frozenset(a for a, _ in self.maps)

    @property
    def needs_zero_page(self) -> bool:
        """An anonymous address may be empty, so that a read fault maps the shared zero page there."""
        return bool(self.fresh or self.zapped - {a for a, _ in self.maps})

    @property
    def on_demand(self) -> frozenset[int]:
        """The addresses whose empty PTE the next access fills: untouched ones and those an operation empties."""
        return self.untouched | self.zapped

    @classmethod
    def build(cls, programs: Mapping[str, Sequence[str]], events: Sequence[str] = (),
              addresses: int | None = None, tlb: bool = False, schedule: Sequence[str] = (),
              fresh: Sequence[str] = (), file: str = "", maps: Mapping[str, str] | None = None,
              cpus: Mapping[str, int] | None = None, thp: int = 0, hugetlb: bool = False,
              thp_pte: bool = False) -> "Scenario":
        threads = []
        if not isinstance(programs, Mapping):
            raise ScenarioError(f"the programs must map thread names to lists of operations, not be a "
                                f"{type(programs).__name__}")
        for name, program in programs.items():
            m = _THREAD.match(name) if isinstance(name, str) else None
            if not m:
                raise ScenarioError(f"thread {name!r}: threads are named parent, parent.2, child1, child1.2, ...")
            if isinstance(program, str):
                raise ScenarioError(f"thread {name}: the program must be a list of operations, not one string")
            if not isinstance(program, (list, tuple)):
                raise ScenarioError(f"thread {name}: the program must be a list of operations, not a "
                                    f"{type(program).__name__}")
            for n, text in enumerate(program, 1):
                if not isinstance(text, str):  # parse_op reads words out of a string
                    raise ScenarioError(f"thread {name}, operation {n}: {text!r} is not an operation "
                                        "(a string such as 'store a0')")
            proc = int(m.group(2)) if m.group(2) else 0
            if not program:
                raise ScenarioError(f"thread {name}: empty program (a thread needs at least one operation)")
            ops = tuple(parse_op(text, f"thread {name}, operation {n}") for n, text in enumerate(program, 1))
            threads.append(Thread(name, proc, ops))
        if not any(t.proc == 0 for t in threads):
            raise ScenarioError("a scenario needs a parent thread")
        forks = sum(1 for t in threads for op in t.program if op.kind == "fork")
        for t in threads:
            if t.proc and any(op.kind == "fork" for op in t.program):
                raise ScenarioError(f"thread {t.name}: only the parent forks")
            if t.proc > forks:
                raise ScenarioError(f"thread {t.name}: the parent forks only {forks} time(s)")
        if isinstance(events, str) or not isinstance(events, (list, tuple, set, frozenset)):
            raise ScenarioError(f"events must be a list of kernel event names, not a {type(events).__name__}"
                                + (f" (write [{events!r}])" if isinstance(events, str) else ""))
        unknown = set(events) - set(EVENTS)
        if unknown:
            raise ScenarioError(f"unknown kernel event(s) {', '.join(sorted(unknown))} (known: {', '.join(EVENTS)})")
        holders: dict[str, Holder] = {}
        taken_at: dict[str, tuple[str, int]] = {}  # holder -> (thread, operation number) that takes it
        for t in threads:
            for n, op in enumerate(t.program, 1):
                if OPERATIONS[op.kind].form is Form.TAKES_HOLDER:
                    if op.holder in holders:
                        raise ScenarioError(f"thread {t.name}: holder {op.holder!r} is taken twice")
                    decl = OPERATIONS[op.kind]
                    holders[op.holder] = Holder(op.holder, t.proc, op.addr, op.kind, op.cell,
                                                reference=op.reference or decl.reference,
                                                writable=decl.foll_write, longterm=decl.longterm)
                    taken_at[op.holder] = (t.name, n)
        put_by: dict[str, str] = {}  # holder -> the thread that puts it
        for t in threads:
            for op in t.program:
                if op.kind != "put":
                    continue
                if op.holder in put_by and put_by[op.holder] != t.name:
                    raise ScenarioError(f"holder {op.holder!r} is put twice (by {put_by[op.holder]} and {t.name}): "
                                        "a reference is dropped once, so one of them would wait for ever")
                put_by[op.holder] = t.name
        for t in threads:
            for n, op in enumerate(t.program, 1):
                decl = OPERATIONS[op.kind]
                if decl.form is Form.USES_HOLDER:
                    h = holders.get(op.holder)
                    if h is None:
                        raise ScenarioError(f"thread {t.name}: {op.text!r} names holder {op.holder!r}, "
                                            f"which no GUP operation takes")
                    if h.proc != t.proc:
                        raise ScenarioError(f"thread {t.name}: holder {op.holder!r} belongs to another process")
                    taker, when = taken_at[op.holder]
                    if taker == t.name and when > n:
                        raise ScenarioError(f"thread {t.name}: {op.text!r} (operation {n}) uses holder "
                                            f"{op.holder!r} before the thread takes it (operation {when})")
                    put_at = next((m for m, earlier in enumerate(t.program[:n - 1], 1)
                                   if earlier.kind == "put" and earlier.holder == op.holder), None)
                    if put_at is not None:
                        raise ScenarioError(f"thread {t.name}: {op.text!r} (operation {n}) uses holder "
                                            f"{op.holder!r} after operation {put_at} put it")
                    if decl.writes and not h.writable:
                        raise ScenarioError(f"thread {t.name}: {op.text!r}: {h.name} is a read-only reference")
        tokens = _ordering(threads, forks)
        used = max([max(op.addr, op.target) for t in threads for op in t.program], default=-1) + 1
        if addresses is None:
            addresses = max(used, 1, _huge_page(thp, threads, frozenset(events), bool(tlb), fresh, maps))
        elif used > addresses:
            raise ScenarioError(f"the programs use address a{used - 1} but the world has {addresses}")
        elif addresses < _huge_page(thp, threads, frozenset(events), bool(tlb), fresh, maps):
            raise ScenarioError(f"a THP of {thp} pages covers a0 to a{thp - 1} but the world has {addresses} "
                                "address(es)")
        zapped = frozenset(op.addr for t in threads for op in t.program if OPERATIONS[op.kind].unpopulates)
        hugetlb = hugetlb or file == "hugetlbfs"  # (a hugetlbfs file's pages, and their copies, are huge pages)
        _hugetlb(hugetlb, thp, threads, frozenset(events), bool(tlb), fresh, maps, file)
        file_maps = _file_mappings(file, maps, threads, addresses, frozenset(events), bool(tlb), bool(fresh), zapped)
        fresh_addrs = _fresh_addresses(fresh, threads, addresses, frozenset(events), bool(tlb),
                                       zapped - {a for a, _ in file_maps})
        _minor_registrations(threads, file, file_maps)
        _refuse_unmodelled(threads, frozenset(events), bool(tlb), fresh_addrs | zapped,
                           {op.holder: op.addr for t in threads for op in t.program
                            if OPERATIONS[op.kind].form is Form.TAKES_HOLDER})
        threads = _pinned(threads, cpus)
        threads.sort(key=lambda t: (t.proc, t.name))
        cells = max([op.cell for t in threads for op in t.program], default=0) + 1
        return cls(threads=tuple(threads), events=frozenset(events), holders=tuple(holders.values()),
                   processes=forks + 1, addresses=addresses, cells=cells, tlb=bool(tlb),
                   schedule=_schedule_keys(schedule, {t.name for t in threads}, frozenset(events) | {
                       need for t in threads for op in t.program for need in OPERATIONS[op.kind].needs
                       if need == "writeback"}),
                   tokens=tokens, fresh=fresh_addrs, zapped=zapped, file=file if file_maps else "", maps=file_maps,
                   thp=thp, hugetlb=bool(hugetlb), thp_pte=_thp_pte(thp_pte, thp))

    def uses(self, *kinds: str) -> bool:
        return any(op.kind in kinds for t in self.threads for op in t.program)

    def mapping(self, addr: int) -> str:
        """How the address is mapped: "private" or "shared" (a mapping of the scenario's file), or "anon"."""
        return next((how for a, how in self.maps if a == addr), "anon")


# -- file mappings ------------------------------------------------------------------------------------------------
# The file a scenario maps, by what its file system does with a page written through a shared mapping.
FILE_KINDS = {
    "shmem": "a shmem/tmpfs file (memfd_create, or tmpfile() on a tmpfs): no dirty tracking for writeback",
    "disk": "a file on a disk file system that tracks dirty pages for writeback (ext4, xfs, btrfs): a shared "
            "writable mapping needs dirty tracking",
    "hugetlbfs": "a hugetlbfs file (memfd_create with MFD_HUGETLB): huge pages, no dirty tracking; the world's "
                 "memory is hugetlb pages",
}
MAPPINGS = ("private", "shared")  # MAP_PRIVATE, MAP_SHARED (both PROT_READ|PROT_WRITE)
# what a world with a file mapping models: CPU accesses, mprotect(PROT_READ), GUP references and their use,
# MADV_DONTNEED, forced writes, UFFDIO_CONTINUE and ordering (fork, unmapping, swap, uffd-wp, clear_refs and the
# kernel events on file pages are not)
FILE_OPERATIONS = ("store", "load", "mprotect_ro", "get_ro", "get_rw", "pin_ro", "pin_rw", "pin_ro_short",
                   "pin_rw_short", "pin_ro_fast", "pin_rw_fast", "iouring_register", "dio_read", "dio_write",
                   "dma_read", "dma_write", "put", "dontneed", "force_write", "uffd_continue", "signal", "await")


def _file_mappings(file: str, maps: Mapping[str, str] | None, threads: Sequence[Thread], addresses: int,
                   events: frozenset[str], tlb: bool, fresh: bool,
                   zapped: frozenset[int]) -> tuple[tuple[int, str], ...]:
    """The scenario's mappings of its one file (``maps``: ``{"a0": "private", "a1": "shared"}``), once the
    scenario is seen to use only what a world with file mappings models (``fresh``: it names fresh addresses;
    ``zapped``: the addresses its operations may empty)."""
    if maps is None or (not maps and not file):
        if file:
            raise ScenarioError(f"file {file!r} is named but nothing maps it (maps={{'a0': 'private'}})")
        return ()
    if not isinstance(maps, Mapping):
        raise ScenarioError(f"maps must map addresses to 'private' or 'shared', not be a {type(maps).__name__}")
    if file not in FILE_KINDS:
        raise ScenarioError(f"file {file!r}: the mapped file is one of {', '.join(FILE_KINDS)}"
                            + (" (maps names mappings of it)" if not file else ""))
    chosen: dict[int, str] = {}
    for name, how in maps.items():
        addr = _world_address("maps", name, addresses)
        if how not in MAPPINGS:
            raise ScenarioError(f"maps: {name} is mapped {how!r}; a file is mapped 'private' or 'shared'")
        chosen[addr] = how
    if not chosen:
        raise ScenarioError(f"file {file!r} is named but nothing maps it (maps={{'a0': 'private'}})")
    if fresh:
        raise ScenarioError("a world has either fresh anonymous addresses or file mappings, not both")
    for t in threads:
        if t.proc:
            raise ScenarioError(f"thread {t.name}: a world with file mappings has one process (no fork)")
    _only(threads, FILE_OPERATIONS, "file mappings")
    if events or tlb:
        raise ScenarioError("a world with file mappings models no kernel events and no TLBs")
    for t in threads:
        for op in t.program:
            how = chosen.get(op.addr, "anon")
            if OPERATIONS[op.kind].unpopulates and how == "anon":
                raise ScenarioError(f"thread {t.name}: {op.text!r}: a world with file mappings empties only them "
                                    "(an emptied anonymous address would need the shared zero page)")
            if op.kind == "force_write" and how == "shared":
                raise ScenarioError(f"thread {t.name}: {op.text!r}: a FOLL_FORCE write is modelled into private "
                                    "mappings only (into a shared one it is a plain write, or EFAULT)")
    return tuple(sorted(chosen.items()))


def _minor_registrations(threads: Sequence[Thread], file: str, file_maps: tuple[tuple[int, str], ...]) -> None:
    """Refuse, in one line, a minor-fault registration (an address a thread calls UFFDIO_CONTINUE on) of what is
    not a mapping of a shmem file (vma_can_userfault allows shmem and hugetlb only; the world has no hugetlb)."""
    mapped = {a for a, _ in file_maps}
    for t in threads:
        for op in t.program:
            if "minor" in OPERATIONS[op.kind].needs and (op.addr not in mapped or file != "shmem"):
                raise ScenarioError(f"thread {t.name}: {op.text!r}: minor faults are registered on a mapping of "
                                    "a shmem file only (file='shmem', maps={'a0': 'private'})")


def _world_address(setting: str, name: object, addresses: int) -> int:
    """The address a world setting names (``"a1"``), or one line saying what is wrong with it."""
    m = re.fullmatch(r"a(\d+)", name) if isinstance(name, str) else None
    if m is None:
        raise ScenarioError(f"{setting}: {name!r} is not an address (a0, a1, ...)")
    if int(m.group(1)) >= addresses:
        raise ScenarioError(f"{setting}: {name} is not an address of the world (it has a0..a{addresses - 1})")
    return int(m.group(1))


# each operation on one page and its form on the THP's whole range; the operations of the whole range
WHOLE_THP_RANGE = {"munmap": "munmap_thp", "mprotect_ro": "mprotect_thp_ro", "mprotect_rw": "mprotect_thp_rw"}
THP_RANGE_OPERATIONS = (*WHOLE_THP_RANGE.values(), "collapse_thp", "pageout_thp", "pageout_thp_cached")
# what a world with a THP models: CPU accesses, fork and exit, unmapping and mprotect (of a page, or of the THP's
# whole range), MADV_COLLAPSE, MADV_PAGEOUT of the whole range, MADV_DONTFORK/DOFORK, mremap, clear_refs, GUP
# references and their use, and ordering (uffd, reclaim's own events, KSM and TLBs are not modelled with it)
THP_OPERATIONS = ("store", "load", "fork", "exit", "munmap", "vmsplice", "pipe_read", "get_ro", "get_rw", "pin_ro",
                  "pin_rw", "pin_ro_short", "pin_rw_short", "pin_ro_fast", "pin_rw_fast", "iouring_register",
                  "dma_read", "dma_write", "put", "wait", "signal", "await", "mprotect_ro", "mprotect_rw",
                  "clear_refs", "dontfork", "dofork", "mremap") + THP_RANGE_OPERATIONS


def _huge_page(thp: int, threads: Sequence[Thread], events: frozenset[str], tlb: bool, fresh: Sequence[str],
               maps: Mapping[str, str] | None) -> int:
    """The addresses the scenario's THP needs (0 without one), once the scenario is seen to use only what a
    world with a THP models."""
    if isinstance(thp, bool) or not isinstance(thp, int):
        raise ScenarioError(f"thp must be the number of pages of the THP, not {thp!r}")
    if thp == 0:
        for t in threads:
            for op in t.program:
                if op.kind in THP_RANGE_OPERATIONS:
                    raise ScenarioError(f"thread {t.name}: {op.text!r}: {op.kind} needs a THP in the world (thp=N)")
        return 0
    if not 2 <= thp <= MOST_THP_PAGES:
        raise ScenarioError(f"thp={thp}: a THP of 2 to {MOST_THP_PAGES} pages stands for the 512 of a PMD")
    _only(threads, THP_OPERATIONS, "a THP")
    forks = sum(1 for t in threads for op in t.program if op.kind == "fork")
    if forks > 6:  # (a folio's MM-owner slots name an mm in 3 bits)
        raise ScenarioError(f"a world with a THP has at most 7 processes, and the parent forks {forks} times")
    if events - {"spec"} or tlb or maps:
        raise ScenarioError("a world with a THP models no kernel events but speculative references (\"spec\"), "
                            "no TLBs or file mappings")
    untouched = {name for name in fresh if isinstance(name, str)} & {f"a{a}" for a in range(thp)}
    if untouched and len(untouched) != thp:
        raise ScenarioError(f"fresh: the THP's range a0 to a{thp - 1} starts untouched whole (a read fault maps "
                            "the huge zero page there, a write a THP) or not at all")
    for t in threads:
        for op in t.program:
            if op.kind in THP_RANGE_OPERATIONS and op.addr >= thp:
                raise ScenarioError(f"thread {t.name}: {op.text!r}: a{op.addr} is not in the THP (a0 to a{thp - 1})")
    if _lockless_beside_fork(threads):
        raise ScenarioError("a THP in a world where GUP-fast runs beside fork is not modelled yet")
    return thp


# what a world of hugetlb memory models: a THP's, but for the THP's range (a hugetlb page is never split)
HUGETLB_OPERATIONS = tuple(kind for kind in THP_OPERATIONS if kind not in THP_RANGE_OPERATIONS)


def _thp_pte(thp_pte: bool, thp: int) -> bool:
    if not isinstance(thp_pte, bool):
        raise ScenarioError(f"thp_pte is True or False, not {thp_pte!r}")
    if thp_pte and not thp:
        raise ScenarioError("thp_pte names how the THP starts mapped, and the world has no THP (thp=N)")
    return thp_pte


def _hugetlb(hugetlb: bool, thp: int, threads: Sequence[Thread], events: frozenset[str], tlb: bool,
             fresh: Sequence[str], maps: Mapping[str, str] | None, file: str) -> None:
    """Refuse, in one line, what a world of hugetlb memory does not model."""
    if not isinstance(hugetlb, bool):
        raise ScenarioError(f"hugetlb is True or False, not {hugetlb!r}")
    if not hugetlb:
        return
    if thp:
        raise ScenarioError("a world's memory is hugetlb pages or a THP, not both")
    _only(threads, HUGETLB_OPERATIONS, "hugetlb memory")
    if maps and file != "hugetlbfs":
        raise ScenarioError(f"a world of hugetlb memory maps a hugetlbfs file (file='hugetlbfs'), not a {file} one")
    if events or tlb or fresh:
        raise ScenarioError("a world of hugetlb memory models no kernel events, TLBs or fresh addresses")


def _lockless_beside_fork(threads: Sequence[Thread]) -> bool:
    forking = {t.name for t in threads if t.proc == 0 and any(op.kind == "fork" for op in t.program)}
    walking = {t.name for t in threads
               if t.proc == 0 and any("lockless" in OPERATIONS[op.kind].needs for op in t.program)}
    return any(f != w for f in forking for w in walking)


def _only(threads: Sequence[Thread], modelled: Sequence[str], world: str) -> None:
    """Refuse, in one line, the first operation a world of this kind (``world``) does not model."""
    for t in threads:
        for op in t.program:
            if op.kind not in modelled:
                raise ScenarioError(f"thread {t.name}: {op.text!r}: a world with {world} models only "
                                    f"{', '.join(modelled)}")


MOST_CPUS = 4  # CPUs a scenario may pin its threads to (a page's flags keep its batch's CPU in two bits)


def _pinned(threads: list[Thread], cpus: Mapping[str, int] | None) -> list[Thread]:
    """The threads, each on the CPU ``cpus`` pins it to (sched_setaffinity to one CPU, as a test does before
    it starts), CPU 0 for those it does not name: every thread on one CPU is the world before per-CPU
    batches."""
    if cpus is None:
        return threads
    if not isinstance(cpus, Mapping):
        raise ScenarioError(f"cpus must map thread names to CPU numbers, not be a {type(cpus).__name__}")
    names = {t.name for t in threads}
    for name, cpu in cpus.items():
        if name not in names:
            raise ScenarioError(f"cpus: {name!r} is not a thread of the scenario ({', '.join(sorted(names))})")
        if not isinstance(cpu, int) or isinstance(cpu, bool) or not 0 <= cpu < MOST_CPUS:
            raise ScenarioError(f"cpus: thread {name} runs on CPU 0..{MOST_CPUS - 1}, not {cpu!r}")
    return [replace(t, cpu=cpus.get(t.name, 0)) for t in threads]


# what the first-touch faults are modelled with: CPU accesses, fork, exit and its wait, mprotect, ordering, the
# LRU batch, FOLL_PIN references read by a device, and what empties an address again (DONTNEED, UFFDIO_MOVE),
# DONTFORK/DOFORK and forced writes (FOLL_GET, vmsplice, unmapping, clear_refs, uffd-wp, swap, TLBs and the
# other kernel events on a page that may be the shared zero page are not)
FRESH_OPERATIONS = ("store", "load", "fork", "exit", "wait", "signal", "await", "mprotect_ro", "mprotect_rw",
                    "pin_ro", "pin_ro_short", "pin_ro_fast", "dma_read", "put", "dontneed", "dontfork", "dofork",
                    "force_write", "uffd_move")
FRESH_EVENTS = ("lru",)


def _fresh_addresses(fresh: Sequence[str], threads: Sequence[Thread], addresses: int, events: frozenset[str],
                     tlb: bool, zapped: frozenset[int] = frozenset()) -> frozenset[int]:
    """The addresses named ``fresh`` (``aN``), once the scenario is seen to use only what a world with
    unpopulated addresses models (as one whose DONTNEED, ``zapped``, leaves addresses unpopulated must)."""
    if isinstance(fresh, str) or not isinstance(fresh, (list, tuple, set, frozenset)):
        raise ScenarioError(f"fresh must be a list of addresses such as ['a0'], not a {type(fresh).__name__}"
                            + (f" (write [{fresh!r}])" if isinstance(fresh, str) else ""))
    chosen = {_world_address("fresh", name, addresses) for name in fresh}
    if not chosen and not zapped:
        return frozenset()
    emptying = sorted({OPERATIONS[op.kind].note or op.kind for t in threads for op in t.program
                       if OPERATIONS[op.kind].unpopulates})
    what = "fresh addresses" if chosen else f"{', '.join(emptying)} (the next access faults a page in)"
    _only(threads, FRESH_OPERATIONS, what)
    if events - set(FRESH_EVENTS) or tlb:
        raise ScenarioError(f"a world with {what} models only the kernel event(s) "
                            f"{', '.join(FRESH_EVENTS)} and no TLBs")
    return frozenset(chosen)


# what a FOLL_FORCE write holds mmap_lock against (for reading, across its fault and retry): the operations that
# take it for writing, which no other thread of the process may then run
MMAP_WRITERS = ("fork", "munmap", "mprotect_ro", "mprotect_rw", "mremap", "dontfork", "dofork", "exit")


def _refuse_unmodelled(threads: Sequence[Thread], events: frozenset[str], tlb: bool, on_demand: frozenset[int],
                       holder_addr: Mapping[str, int]) -> None:
    """One line for a combination the world does not model (see each message)."""
    for t in threads:
        for op in t.program:
            if op.kind == "mremap":
                if op.addr in on_demand or op.target in on_demand:
                    raise ScenarioError(f"thread {t.name}: {op.text!r}: mremap of an address that may be "
                                        "unpopulated is not modelled (an empty PTE there would read as a VMA "
                                        "still mapped)")
                if any(o.addr in (op.addr, op.target) and "uffd" in OPERATIONS[o.kind].needs
                       for th in threads if th.proc == t.proc for o in th.program):
                    raise ScenarioError(f"thread {t.name}: {op.text!r}: mremap of a uffd-wp registered address is "
                                        "not modelled (whether the bits move depends on UFFD_FEATURE_EVENT_REMAP)")
                named = sorted(h for h, a in holder_addr.items() if a in (op.addr, op.target))
                if named:
                    raise ScenarioError(f"thread {t.name}: {op.text!r}: mremap of an address a GUP reference of "
                                        f"the scenario names ({', '.join(named)}) is not modelled (the device's "
                                        "writes are recorded for the address it was taken at)")
            if op.kind == "force_write":
                if "swap" in events or tlb or any(o.kind == "pageout" for th in threads for o in th.program):
                    raise ScenarioError(f"thread {t.name}: {op.text!r}: a FOLL_FORCE write is modelled without "
                                        "swap and without TLBs (the world takes an anonymous page's PTE to be "
                                        "dirty wherever it is mapped, which a swapped-in one is not)")
                others = sorted({o.kind for th in threads if th.proc == t.proc and th.name != t.name
                                 for o in th.program if o.kind in MMAP_WRITERS})
                if others:
                    raise ScenarioError(f"thread {t.name}: {op.text!r}: a FOLL_FORCE write holds mmap_lock for "
                                        f"reading across its fault and retry; other threads of the process that "
                                        f"take it for writing ({', '.join(others)}) are not modelled")


def _ordering(threads: Sequence[Thread], forks: int) -> tuple[str, ...]:
    """The tokens of the scenario, once every ``wait``, ``signal`` and ``await`` is seen to be able to happen:
    a wait names a child the parent forks and whose program exits, once; a token is signalled once, and
    awaited only where some thread signals it (a thread that could never go on is a mistake in the spec,
    not a verdict)."""
    signalled: dict[str, str] = {}  # token -> the thread that signals it
    for t in threads:
        for op in t.program:
            if op.kind != "signal":
                continue
            if op.token in signalled:
                raise ScenarioError(f"thread {t.name}: {op.text!r}: token {op.token!r} is signalled twice (by "
                                    f"{signalled[op.token]} and {t.name}); a token is a one-shot event")
            signalled[op.token] = t.name
    exits = {t.proc for t in threads if any(op.kind == "exit" for op in t.program)}
    waited: dict[int, str] = {}  # child -> the thread that waits for it
    for t in threads:
        for n, op in enumerate(t.program, 1):
            if op.kind == "await" and op.token not in signalled:
                raise ScenarioError(f"thread {t.name}: {op.text!r} awaits token {op.token!r}, which no thread "
                                    "signals")
            if op.kind == "await" and signalled[op.token] == t.name:
                at = next(m for m, o in enumerate(t.program, 1) if o.kind == "signal" and o.token == op.token)
                if at > n:
                    raise ScenarioError(f"thread {t.name}: {op.text!r} (operation {n}) awaits token {op.token!r}, "
                                        f"which only its own operation {at} signals, later")
            if op.kind != "wait":
                continue
            if t.proc:
                raise ScenarioError(f"thread {t.name}: {op.text!r}: only the parent's threads wait for a child")
            if op.child > forks:
                raise ScenarioError(f"thread {t.name}: {op.text!r}: the parent forks only {forks} time(s)")
            if op.child not in exits:
                raise ScenarioError(f"thread {t.name}: {op.text!r}: child{op.child} never exits (no thread of it "
                                    "has 'exit' in its program), so the wait would never return")
            if op.child in waited:
                raise ScenarioError(f"thread {t.name}: {op.text!r}: child{op.child} is waited for twice (by "
                                    f"{waited[op.child]} and {t.name}); a child is reaped once")
            waited[op.child] = t.name
    return tuple(signalled)


def _schedule_keys(schedule: Sequence[str], threads: set[str], events: frozenset[str]) -> tuple[ScheduleKey, ...]:
    """The schedule's entries as the steps they name: a thread's next step, or a kernel event on a page."""
    if isinstance(schedule, str) or not isinstance(schedule, (list, tuple)):
        raise ScenarioError(f"the schedule must be a list of thread names and kernel events, not a "
                            f"{type(schedule).__name__}" + (f" (write [{schedule!r}])" if isinstance(schedule, str) else ""))
    keys: list[ScheduleKey] = []
    for n, entry in enumerate(schedule, 1):
        where = f"schedule entry {n}"
        if not isinstance(entry, str):
            raise ScenarioError(f"{where}: {entry!r} is not a thread name or a kernel event")
        if entry in threads:
            keys.append(("thread", entry))
            continue
        m = _KERNEL_STEP.match(entry)
        if m is None:
            raise ScenarioError(f"{where}: {entry!r} is neither a thread of the scenario ({', '.join(sorted(threads))}) "
                                "nor a kernel event written as 'kernel spec_get(page 0)'")
        kind, page = m.group(1), int(m.group(2))
        if kind not in EVENT_OF:
            raise ScenarioError(f"{where}: unknown kernel event {kind!r} (known: {', '.join(EVENT_OF)})")
        if EVENT_OF[kind] not in events:
            raise ScenarioError(f"{where}: {kind} needs the {EVENT_OF[kind]!r} event in the scenario's events")
        keys.append((kind, page))
    return tuple(keys)
