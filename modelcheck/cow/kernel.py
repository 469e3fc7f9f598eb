"""The context every mechanism runs in, built once per model.

A mechanism is a plain function of a ``Kernel`` (or, when it needs no policy,
of the ``Machine`` it runs on), a working copy of the state and its operands.
Everything a mechanism may read besides the state is a field here, so what a
mechanism depends on is declared in one place and checked by the type checker:
the state's layout, the value tags, the scenario's threads and GUP holders,
which optional features the world has, the policy, and the hook through which
symbolic references reach the policy.

A ``Machine`` is what a world is made of without a policy: the renderer of
states and steps needs no more. A ``Kernel`` is a machine bound to a policy.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import TYPE_CHECKING, Any, Mapping, Protocol

from modelcheck.cow.layout import Features, Layout
from modelcheck.cow.policies import GUP_PIN_COUNTING_BIAS, GupRequest, PageInfo, Policy
from modelcheck.cow.values import ValueTags

if TYPE_CHECKING:
    from modelcheck.cow.scenario import Holder, Scenario, Thread
    from modelcheck.cow.unknowns import UnknownReferences
    from modelcheck.cow.world import CowWorld

LRU_BATCH_SIZE = 2  # pages each per-CPU LRU batch holds before it is drained (a kernel pagevec holds 15)


class Slots(Protocol):
    """A state as mechanisms read it: a tuple, or a step's working copy, or a recording or symbolic stand-in
    (``engine.footprint.Tracked``, ``engine.symexec.SymState``) that the same code runs on unchanged."""

    def __getitem__(self, i: Any) -> Any: ...

    def __len__(self) -> int: ...


class MutableSlots(Slots, Protocol):
    """A step's working copy of a state, which mechanisms change in place."""

    def __setitem__(self, i: Any, value: Any) -> None: ...


@dataclass(frozen=True, eq=False, slots=True, kw_only=True)
class Machine:
    """What the world is made of, without a policy: its layout, tags, threads, holders and features."""

    world: CowWorld
    scenario: Scenario | None
    layout: Layout
    tags: ValueTags
    holders: tuple[Holder, ...]
    holder_weights: tuple[tuple[int, int], ...]  # (state index, references the holder counts for)
    zero_page_holder_weights: tuple[tuple[int, int], ...]  # ... when what it holds is the shared zero page
    large_holder_weights: tuple[tuple[int, int], ...]  # ... when it holds a page of a large folio (a pin: one)
    threads: tuple[Thread, ...]                   # scripted worlds: every thread, in state order
    threads_of: tuple[tuple[int, ...], ...]       # thread numbers per process (whose TLBs a flush clears)
    thread_number: Mapping[str, int]
    write_op: Mapping[tuple[int, int], int]       # (thread, pc) -> the write's number, for its value tag
    uffd_addrs: frozenset[int]                    # addresses registered for uffd-wp
    uffd_async_addrs: frozenset[int]              # ... of them, through an async userfaultfd (UFFD_FEATURE_WP_ASYNC)
    open: Mapping[str, bool]                      # open worlds: which action kinds fire
    pte_flag_bits: bool  # PTEs may carry soft-dirty or uffd-wp bits besides the write bit
    dirty_ptes: bool     # a present PTE of a page that is not anonymous may be dirty (UFFDIO_CONTINUE maps it so)
    minor_addrs: frozenset[int]  # addresses registered for minor faults (UFFDIO_REGISTER_MODE_MINOR): those a
                                 # thread calls UFFDIO_CONTINUE on
    soft_dirty_on: bool  # PTEs carry a soft-dirty bit, and clear_refs and mprotect track it (CONFIG_MEM_SOFT_DIRTY)
    swap_on: bool        # pages may be in the swap cache and PTEs may be swap entries
    swap_pte_exclusive: bool  # a swap PTE keeps the page's exclusivity (__HAVE_ARCH_PTE_SWP_EXCLUSIVE)
    lru_on: bool         # fresh pages start in a per-CPU LRU batch
    lru_cpus: int        # the CPUs the scenario's threads run on (each has its own LRU batch)
    reclaim_on: bool     # the kernel reclaims pages (swap events)
    ksm_on: bool         # ksmd merges pages (ksm events)
    migrate_on: bool     # the kernel migrates pages (migrate events: compaction)
    lock_on: bool        # other kernel paths take page locks
    spec_get_on: bool
    spec_put_on: bool
    kernel_families: tuple[tuple[str, ...], ...]  # the kernel events, by family, in successor order
    fresh_addrs: frozenset[int]  # addresses whose empty PTE an access fills (do_anonymous_page): those that start
                                 # untouched, and those MADV_DONTNEED may zap
    zero_page: int       # the page slot of the shared zero page (-1 without fresh addresses): never freed,
                         # never reused, no anonymous page
    # file mappings (scenario.FILE_KINDS): the page slot of the file's one page in the page cache (-1 without a
    # file), which the page cache holds a reference to (never freed) and which is never anonymous; its kind;
    # and how each address maps it ("private" or "shared"; every other address is anonymous memory)
    file_page: int = -1
    file_kind: str = ""
    file_maps: Mapping[int, str] = field(default_factory=dict)
    symbolic: bool       # refcount tests are decided by z3 (symbolic or held unknown references)
    hugetlb_on: bool = False  # the world's memory is hugetlb pages (PAGE_HUGETLB in their flags)
    folios_on: bool = False   # the world has a THP: a large folio of several page slots (layout's folio[g])
    large_on: bool = False    # some page may be a large folio (a THP's, or a hugetlb page): its own counters
    fork_in_steps: bool = False  # "fork" is in ``stepped``: the parent's faulting accesses wait for it
    unmap_in_steps: bool = False  # try_to_unmap or try_to_migrate of an exclusive page clears its PTE, then checks
                                  # for pins, in two steps GUP-fast can come between (swap or migrate events beside
                                  # a GUP-fast pin, PAE era)
    ksm_in_steps: bool = False  # ksmd write-protects a page and replaces it by the KSM page in two steps, GUP-fast
                                # beside it (a thread walks locklessly in a world with ksm events)
    large_reuse_in_steps: bool = False  # 6.15's reuse of a large folio looks at its counters without the lock
                                        # and again under it, and munmap drops a PMD's counters one at a time
    # the operations whose write fault takes 6.15's two looks at a large folio in two steps (where
    # ``large_reuse_in_steps``): those whose stepped mechanism declares faults.LargeReuseInTwoLooks
    large_look_kinds: frozenset[str] = frozenset()
    stepped: frozenset[str] = frozenset()  # operations run in steps (``registry.in_steps``) because another
                                           # thread may act in between: fork, when the parent has a thread that
                                           # walks its page table without mmap_lock (GUP-fast) beside the forking one
    unknowns: UnknownReferences | None = None     # the hook through which they reach the policy
    # info()'s memo of the pages it described, by what it read: a PageInfo is frozen and costs ten attribute
    # stores to build, and a search asks for the same few thousand descriptions millions of times
    page_infos: dict[tuple[int, ...], PageInfo] = field(default_factory=dict)
    gup_requests: dict[tuple[bool, bool, bool, bool, int], GupRequest] = field(default_factory=dict)  # the same
    large_page_infos: dict[tuple[int, ...], PageInfo] = field(default_factory=dict)  # info()'s, of large folios

    def needs_dirty_tracking(self, addr: int) -> bool:
        """vma_needs_dirty_tracking: ``addr`` is a MAP_SHARED mapping of a file whose file system tracks dirty
        pages for writeback (a disk file; not shmem)."""
        return self.file_maps.get(addr) == "shared" and self.file_kind == "disk"

    def gup_request(self, write: bool, pin: bool, longterm: bool, pte_writable: bool, addr: int) -> GupRequest:
        """A GUP call's flags and what it found: the PTE, and the VMA of ``addr`` (private anonymous memory
        unless the world maps a file there)."""
        key = (write, pin, longterm, pte_writable, addr)
        request = self.gup_requests.get(key)
        if request is None:
            how = self.file_maps.get(addr, "anon")
            request = self.gup_requests[key] = GupRequest(
                write=write, pin=pin, longterm=longterm, pte_writable=pte_writable, cow_mapping=how != "shared",
                anon_vma=how == "anon", needs_dirty_tracking=self.needs_dirty_tracking(addr))
        return request

    @classmethod
    def for_policy(cls, world: CowWorld, invariant_names: tuple[str, ...], policy: Policy) -> Machine:
        """The machine of ``world`` checked for ``invariant_names`` under ``policy``: ``build`` with what of the
        policy the machine depends on."""
        return cls.build(world, invariant_names, policy.uses_exclusive, policy.odirect_pins, policy.uffd_wp_async,
                         policy.zero_page_pins_uncounted, policy.thp_split_locks_page, policy.tracks_mm_owners)

    @classmethod
    def build(cls, world: CowWorld, invariant_names: tuple[str, ...], uses_exclusive: bool,
              odirect_pins: bool = False, uffd_wp_async: bool = False,
              zero_page_pins_uncounted: bool = False, thp_split_locks_page: bool = True,
              tracks_mm_owners: bool = False) -> Machine:
        """The machine of ``world`` checked for ``invariant_names``, for a policy that tracks
        PG_anon_exclusive or not (the only thing of a policy the state's layout depends on), whose O_DIRECT
        pins or takes FOLL_GET references (what the scenario's O_DIRECT holders are and count for), whose
        UFFDIO_API accepts UFFD_FEATURE_WP_ASYNC or refuses it (an address the scenario write-protects through an
        async userfaultfd is then not registered at all), whose pins of the shared zero page count in its
        refcount or not, and whose split of a THP's PMD takes the THP's page lock (where it does not, a store's
        write fault on the PMD reads the THP's mapcounts in two steps, between which another process may split
        its PMD: ``cpu.store_in_steps``), and which tracks the MMs that map each large folio (6.15: where several
        processes may map it, a write fault at it looks at its counters in two steps, and munmap drops a PMD's
        one at a time: ``large_reuse_in_steps``)."""
        # the declarations of the mechanisms and invariants (which import this module)
        from modelcheck.cow.invariants import ghost_needed
        from modelcheck.cow.mechanisms.ghost import Ghost
        from modelcheck.cow.mechanisms.faults import LargeReuseInTwoLooks
        from modelcheck.cow.operations import OPERATIONS, needed
        from modelcheck.cow.registry import declares
        from modelcheck.cow.world import ACTION_KINDS

        scenario = world.scenario
        holders = tuple(h.under(odirect_pins) for h in scenario.holders) if scenario else ()
        threads = scenario.threads if scenario else ()
        P = scenario.processes if scenario else world.processes
        M = scenario.addresses if scenario else world.addresses
        open_kinds = world.actions if scenario is None else frozenset()
        lru_on = bool(scenario and "lru" in scenario.events)
        reclaim_on = bool(scenario and "swap" in scenario.events)
        lock_on = bool(scenario and "lock" in scenario.events)
        ksm_on = bool(scenario and "ksm" in scenario.events)
        migrate_on = bool(scenario and "migrate" in scenario.events)
        needs = needed({op.kind for t in threads for op in t.program})
        config = world.config
        swap_on = (reclaim_on or "swap" in needs) and config.swap
        pte_flag_bits = "pte_flags" in needs
        if scenario is None:
            pipes = bool(open_kinds & {"vmsplice", "pipe_read"})
            spec = world.speculative if open_kinds & {"spec_get", "spec_put"} else 0
        else:
            pipes = "pipes" in needs
            spec = world.speculative if "spec" in scenario.events or world.held else 0
        lockless = any("lockless" in OPERATIONS[op.kind].needs for th in threads for op in th.program)
        # 6.15 on, where another process can act between the looks of a write fault at a large folio
        large_in_steps = bool(scenario and scenario.thp and P > 1 and tracks_mm_owners)
        large_look_kinds = frozenset(kind for kind, decl in OPERATIONS.items() if large_in_steps
                                     and decl.steps_run is not None and declares(decl.steps_run, LargeReuseInTwoLooks))
        features = Features(
            pipes=pipes, speculative=spec,
            pageflags=(uses_exclusive or lru_on or swap_on or lock_on or ksm_on or migrate_on or "ksm" in needs
                       or bool(scenario and scenario.hugetlb)),
            vma="vma" in needs,
            mm=bool(scenario and scenario.tlb) or "mm" in needs,
            tlb=bool(scenario and scenario.tlb),
            threads=len(threads),
            holders=len(holders),
            last_write=Ghost.LAST_WRITE in ghost_needed(invariant_names),
            write_protect=Ghost.WRITE_PROTECT in ghost_needed(invariant_names),
            uffd_protect=Ghost.UFFD_PROTECT in ghost_needed(invariant_names),
            extra_pages=_extra_pages(scenario),
            cells=scenario.cells if scenario else 1,
            held=len(world.held_unknown),
            schedule=bool(scenario and scenario.schedule),
            tokens=len(scenario.tokens) if scenario else 0,
            force="force" in needs,
            steps="steps" in needs or bool(scenario and scenario.thp and P > 1 and not thp_split_locks_page)
            or large_in_steps,
            thp=scenario.thp if scenario else 0,
            owners=bool(scenario and scenario.thp and tracks_mm_owners),
            gather=large_in_steps,
            warnings=Ghost.WARNINGS in ghost_needed(invariant_names))
        layout = Layout(P, M, features)
        async_addrs = frozenset(op.addr for th in threads for op in th.program if op.kind == "uffd_wp_async")
        writers: list[tuple[int, str]] | None = None
        write_op: dict[tuple[int, int], int] = {}
        if scenario is not None:
            writers = []
            for ti, thread in enumerate(threads):
                for pc, op in enumerate(thread.program):
                    if OPERATIONS[op.kind].writes:
                        writers.append((thread.proc, f"{thread.name} step {pc + 1}: {op.text}"))
                        write_op[ti, pc] = len(writers)
        is_open = {kind: kind in open_kinds for kind in ACTION_KINDS}
        spec_events = bool(scenario and "spec" in scenario.events)
        spec_get_on = is_open["spec_get"] or spec_events
        spec_put_on = is_open["spec_put"] or spec_events
        families = tuple(family for family, on in (
            (("spec_get",), spec_get_on and bool(spec)), (("spec_put",), spec_put_on and bool(spec)),
            (("lru_drain",), lru_on), (("unlock_page",), lock_on), (("lock_page",), lock_on),
            (("swap_add", "swap_unmap"), reclaim_on), (("ksm_merge",), ksm_on), (("migrate",), migrate_on),
            (("writeback_end",), "writeback" in needs and swap_on)) if on)
        return cls(
            world=world, scenario=scenario, layout=layout, tags=ValueTags(P, writers), holders=holders,
            holder_weights=tuple((layout.holder_base + n, GUP_PIN_COUNTING_BIAS if h.is_pin else 1)
                                 for n, h in enumerate(holders)),
            zero_page_holder_weights=tuple((layout.holder_base + n, (0 if zero_page_pins_uncounted else
                                                                     GUP_PIN_COUNTING_BIAS) if h.is_pin else 1)
                                 for n, h in enumerate(holders)),
            large_holder_weights=tuple((layout.holder_base + n, 1) for n in range(len(holders))),
            threads=threads,
            threads_of=tuple(tuple(n for n, th in enumerate(threads) if th.proc == p) for p in range(P)),
            thread_number={th.name: n for n, th in enumerate(threads)}, write_op=write_op,
            uffd_addrs=frozenset(op.addr for th in threads for op in th.program if "uffd" in OPERATIONS[op.kind].needs)
            - (frozenset() if uffd_wp_async else async_addrs),  # a refused async userfaultfd registers nothing
            uffd_async_addrs=async_addrs if uffd_wp_async else frozenset(),
            open=is_open, pte_flag_bits=pte_flag_bits, dirty_ptes="dirty_ptes" in needs,
            minor_addrs=frozenset(op.addr for th in threads for op in th.program
                                  if "minor" in OPERATIONS[op.kind].needs),
            soft_dirty_on=pte_flag_bits and config.soft_dirty,
            swap_on=swap_on, swap_pte_exclusive=config.swap_pte_exclusive, lru_on=lru_on,
            lru_cpus=max((th.cpu for th in threads), default=0) + 1, reclaim_on=reclaim_on, ksm_on=ksm_on,
            migrate_on=migrate_on,
            lock_on=lock_on, spec_get_on=spec_get_on, spec_put_on=spec_put_on, kernel_families=families,
            fresh_addrs=scenario.on_demand if scenario else frozenset(),
            zero_page=layout.pages - 1 if scenario and scenario.needs_zero_page else -1,
            file_page=layout.pages - 1 if scenario and scenario.maps else -1,
            file_kind=scenario.file if scenario else "",
            file_maps=dict(scenario.maps) if scenario else {},
            hugetlb_on=bool(scenario and scenario.hugetlb),
            folios_on=bool(scenario and scenario.thp),
            large_on=bool(scenario and (scenario.thp or scenario.hugetlb)),
            fork_in_steps=bool(scenario and scenario.lockless_beside_fork),
            unmap_in_steps=(reclaim_on or migrate_on) and uses_exclusive and lockless,
            ksm_in_steps=ksm_on and lockless,
            large_reuse_in_steps=large_in_steps, large_look_kinds=large_look_kinds,
            stepped=(frozenset({"fork"}) if scenario and scenario.lockless_beside_fork else frozenset())
            | (frozenset({"store"}) if scenario and scenario.thp and P > 1 and not thp_split_locks_page
               else frozenset())
            | (large_look_kinds | {"munmap_thp"} if large_in_steps else frozenset()),
            symbolic=world.symbolic_refs or bool(world.held_unknown))


@dataclass(frozen=True, eq=False, slots=True, kw_only=True)
class Kernel(Machine):
    """A machine bound to a policy: what every mechanism that takes a decision runs in, on one CPU (the
    CPU of the thread whose step it is: whose LRU batch a new page goes into and a fault drains)."""

    policy: Policy
    cpu: int = 0
    # in a world that tracks large folios' MM owners, the state as of the owner slots' last update in the step
    # being run (set and emptied around each step by the model; empty between steps): ``thp.sync_mm_owners``
    # brings them up to date in mid-step. Scratch of one step, shared by this kernel's CPUs (``on_cpu``)
    owners_synced: list[tuple[int, ...]] = field(default_factory=list)

    @classmethod
    def of(cls, machine: Machine, policy: Policy, unknowns: UnknownReferences | None = None) -> Kernel:
        given: dict[str, Any] = {f.name: getattr(machine, f.name) for f in fields(machine)}
        given["unknowns"] = unknowns
        return cls(**given, policy=policy)

    def on_cpu(self, cpu: int) -> Kernel:
        """This kernel running on ``cpu``."""
        return self if cpu == self.cpu else replace(self, cpu=cpu)


def _extra_pages(scenario: Scenario | None) -> int:
    """Scripted worlds: page slots beyond one per PTE, pipe, speculative and GUP reference.

    Every live page is held by something: a PTE (present or swap), a pipe, a
    GUP reference, a speculative reference, the LRU batch, or a copy fault in
    flight (its old and new page); a write fault allocates before it lets go
    of the old page. Those bound the pages alive at once. A world with fresh
    addresses has the shared zero page besides, alive for ever.
    """
    if scenario is None:
        return 0  # the reference world's budget is reference-world.md's
    extra = 1
    if "lru" in scenario.events:
        extra += LRU_BATCH_SIZE * (max(th.cpu for th in scenario.threads) + 1)
    if scenario.tlb:
        extra += 2 * len(scenario.threads)
    if scenario.needs_zero_page:
        extra += 1  # the shared zero page, in the last slot
    if scenario.maps:
        extra += 1  # the file's page in the page cache, in the last slot (a world has no zero page then)
    if "migrate" in scenario.events:
        extra += 1  # migration allocates the new page before it frees the old one
    return extra
