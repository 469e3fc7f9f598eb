"""The COW world's configuration: how big it is, and which actions or programs run in it.

``CowWorld`` is what a spec picks; ``CowWorld.model(policy, invariants)`` binds
it to one policy and yields the transition system the engine searches.

* ``CowWorld(P, M, S)``: the open reference world W(P, M, S) of
  reference-world.md, every action of it enabled (``actions`` narrows them);
* ``CowWorld.scripted({"parent": [...], "child1": [...]}, events=[...])``: a
  scenario, a program per thread (see ``scenario``) with kernel events
  interleaving; the explorer tries every interleaving (or, with
  ``schedule=[...]``, those that start in the order given).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping, Sequence

from modelcheck.cow import invariants as _invariants
from modelcheck.cow.config import FULL_KERNEL, KernelConfig
from modelcheck.cow.policies import Policy, get_policy, policy_names
from modelcheck.cow.operations import OPEN_ACTIONS
from modelcheck.cow.scenario import EVENT_OF, WHOLE_THP_RANGE, Scenario

if TYPE_CHECKING:
    from modelcheck.cow.model import CowModel

USER_ACTIONS = tuple(OPEN_ACTIONS)  # write, read, munmap, vmsplice, pipe_read, fork
KERNEL_EVENTS = ("spec_get", "spec_put")
ACTION_KINDS = USER_ACTIONS + KERNEL_EVENTS


# The largest bounds a world may have: every counter then fits the 16 bits a packed state gives it (a page's
# refcount reaches P*M + P + S), and building a model stays well under a second; a model checker's worlds are
# far smaller (W(3,2,0) is 4.5 million states). S goes past GUP_PIN_COUNTING_BIAS (1024): the explicit
# counterpart of a symbolic counterexample of page_maybe_dma_pinned() needs S = 1023 (spec O16).
MOST_PROCESSES, MOST_ADDRESSES, MOST_SPECULATIVE = 64, 64, 4096
MOST_HELD = 1 << 20  # references held outside on one page (a packed store holds at most 65535: use dict beyond)


class WorldError(ValueError):
    """A world that cannot be built as asked (a bad bound, an unknown action, a malformed scenario)."""


@dataclass(frozen=True)
class CowWorld:
    """A bounded world of processes, addresses, pages, pipes, GUP references and kernel events.

    processes   P: the parent plus at most P-1 children (only the parent forks)
    addresses   M: virtual pages mapped in the parent at the start
    speculative S: the most speculative references outstanding at once
    actions     open worlds: which action kinds may fire (default: all of them)
    scenario    scripted worlds: the programs and events (P and M then follow from it)
    symbolic_refs  speculative and transient references are one unknown count per page and step,
                   decided by z3 (``symbolic.py``) instead of enumerated up to S
    held_unknown   addresses whose first page has references held outside the scenario for the whole
                   run, an unknown number (z3 again; the state keeps what the steps learnt of it)
    held           (address, count) pairs: such references as a number in the state, on the page's
                   speculative-reference slot (no speculative events take or drop them); a count of
                   None is a parameter of the run (``engine.model.Parametric``), which a search may leave
                   free (one that does not would start it at 0: ``with_held_as_parameters`` is the
                   only maker of None)
    config      the kernel's build configuration (``config.KernelConfig``: soft-dirty, uffd-wp, swap, the
                   swap-PTE exclusive bit); a scenario that uses what it lacks is refused
    """

    processes: int = 2
    addresses: int = 1
    speculative: int = 0
    actions: frozenset[str] = field(default=frozenset(ACTION_KINDS))
    scenario: Scenario | None = None
    symbolic_refs: bool = False
    held_unknown: tuple[int, ...] = ()
    held: tuple[tuple[int, int | None], ...] = ()
    config: KernelConfig = FULL_KERNEL

    def __post_init__(self) -> None:
        if not isinstance(self.config, KernelConfig):
            raise WorldError(f"config must be a KernelConfig, not {type(self.config).__name__}")
        if self.scenario is not None:
            self._check_config(self.scenario)
        for name, value, least, most in (("processes (P)", self.processes, 1, MOST_PROCESSES),
                                         ("addresses (M)", self.addresses, 1, MOST_ADDRESSES),
                                         ("speculative references (S)", self.speculative, 0, MOST_SPECULATIVE)):
            if not isinstance(value, int) or isinstance(value, bool):
                raise WorldError(f"{name} must be a whole number, not {value!r}")
            if value < least:
                raise WorldError(f"{name} must be at least {least}, not {value}")
            if value > most:
                raise WorldError(f"{name} must be at most {most} (the largest this world supports), not {value}")
        actions = frozenset(self.actions)
        unknown = actions - set(ACTION_KINDS)
        if unknown:
            raise WorldError(f"unknown action kind(s) {', '.join(sorted(unknown))} "
                             f"(known: {', '.join(ACTION_KINDS)})")
        object.__setattr__(self, "actions", actions)
        addresses = self.scenario.addresses if self.scenario is not None else self.addresses
        for a in self.held_unknown + tuple(a for a, _ in self.held):
            if not isinstance(a, int) or not 0 <= a < addresses:
                raise WorldError(f"held references name address {a!r}; the world has a0..a{addresses - 1}")
        for a, count in self.held:
            if count is not None and (not isinstance(count, int) or not 0 <= count <= MOST_HELD):
                raise WorldError(f"held references on a{a}: a count from 0 to {MOST_HELD}, not {count!r}")
        if self.held and (self.speculative < 1 or (self.scenario is not None and "spec" in self.scenario.events)):
            raise WorldError("held references sit on the speculative-reference slots: they need S >= 1 and "
                             "no speculative events")

    def _check_config(self, scenario: Scenario) -> None:
        """A scenario that needs what the kernel was built without cannot run on it (one line)."""
        from modelcheck.cow.operations import OPERATIONS

        if not self.config.uffd_wp:
            uffd = sorted({op.text for t in scenario.threads for op in t.program
                           if "uffd" in OPERATIONS[op.kind].needs})
            if uffd:
                raise WorldError(f"scenario: {uffd[0]} needs userfaultfd write-protection, and this kernel is built "
                                 f"without it (UFFDIO_REGISTER_MODE_WP fails with EINVAL)")
        kinds_at: dict[int, set[str]] = {}
        for th in scenario.threads:
            for op in th.program:
                if op.kind in ("uffd_wp", "uffd_wp_async"):
                    kinds_at.setdefault(op.addr, set()).add(op.kind)
        both = sorted(a for a, kinds in kinds_at.items() if len(kinds) > 1)
        if both:
            raise WorldError(f"scenario: a{both[0]} is write-protected through both a synchronous and an async "
                             f"userfaultfd (uffd_wp and uffd_wp_async), and a range registers with one")
        if not self.config.ksm and ("ksm" in scenario.events or any(
                "ksm" in OPERATIONS[op.kind].needs for t in scenario.threads for op in t.program)):
            raise WorldError("scenario: KSM needs CONFIG_KSM, and this kernel is built without it "
                             "(MADV_MERGEABLE fails with EINVAL)")
        if not self.config.swap and "swap" in scenario.events:
            raise WorldError("scenario: kernel swap events need swap, and this kernel has none (CONFIG_SWAP off)")

    @classmethod
    def reference(cls, P: int, M: int, S: int) -> "CowWorld":
        """The reference world W(P, M, S): every action of reference-world.md enabled."""
        return cls(processes=P, addresses=M, speculative=S)

    @classmethod
    def scripted(cls, programs: Mapping[str, Sequence[str]], events: Sequence[str] = (),
                 speculative: int = 0, addresses: int | None = None, tlb: bool = False,
                 schedule: Sequence[str] = (), config: KernelConfig = FULL_KERNEL,
                 fresh: Sequence[str] = (), file: str = "", maps: Mapping[str, str] | None = None,
                 cpus: Mapping[str, int] | None = None, thp: int = 0, hugetlb: bool = False,
                 thp_pte: bool = False) -> "CowWorld":
        """A scenario: one program per thread, and the kernel events allowed to interleave; ``schedule``
        (thread names and kernel events such as ``kernel spec_get(page 0)``) pins the order of the first
        steps (``scenario``); ``config`` is the kernel's build configuration; the addresses ``fresh``
        (``["a0"]``) start mapped but never touched, so their first access faults a page in; ``maps``
        (``{"a0": "private", "a1": "shared"}``) maps the addresses named to one file of kind ``file``
        (``scenario.FILE_KINDS``: "shmem", "disk" or "hugetlbfs"), untouched until their first access; ``cpus``
        (``{"parent.2": 1}``) pins threads to CPUs, each with its own LRU batch (every other thread runs on
        CPU 0); ``thp`` (2 to 8) makes a0 .. a<thp-1> one anonymous THP of that many pages, standing for a
        PMD's 512, mapped by one PMD in the parent at first (``thp_pte``: by PTEs, its PMD split); ``hugetlb``
        makes every address private anonymous hugetlb memory (MAP_HUGETLB), one huge page each."""
        try:
            scenario = Scenario.build(programs, events, addresses, tlb, schedule, fresh, file, maps, cpus, thp,
                                      hugetlb, thp_pte)
        except ValueError as err:
            raise WorldError(f"scenario: {err}") from None
        if "spec" in scenario.events and speculative < 1:
            speculative = 1
        world = cls(processes=scenario.processes, addresses=scenario.addresses, speculative=speculative,
                    scenario=scenario, config=config)
        named = [page for _, page in scenario.schedule if isinstance(page, int)]  # kernel events, by page
        if named:
            from modelcheck.cow.kernel import Machine

            pages = Machine.build(world, (), uses_exclusive=False).layout.pages
            if max(named) >= pages:
                raise WorldError(f"scenario: the schedule names page {max(named)}, and the world has pages "
                                 f"0..{pages - 1}")
        return world

    def with_symbolic_refs(self) -> "CowWorld":
        """This world with its speculative references unknown in number instead of enumerated (S goes, and
        with it the speculative steps of a schedule: the unknown references are there at every step)."""
        scenario = self.scenario
        if scenario is not None:
            scenario = replace(scenario, events=scenario.events - {"spec"},
                               schedule=tuple(key for key in scenario.schedule if EVENT_OF.get(key[0]) != "spec"))
        return replace(self, speculative=0, symbolic_refs=True, scenario=scenario,
                       actions=self.actions - {"spec_get", "spec_put"})

    def with_unknown_holders(self, *addresses: int) -> "CowWorld":
        """This world with references held outside the scenario, an unknown number for the whole run,
        on the first page of each of ``addresses`` (pipes filled by vmsplice before the scenario, say)."""
        return replace(self, held_unknown=tuple(sorted(set(self.held_unknown) | set(addresses))))

    def with_held_as_parameters(self) -> "CowWorld":
        """This world with references held outside the scenario in an unknown number as a count in the
        state that is a parameter of the run (``engine.model.Parametric``), instead of the symbolic knowledge
        ``held_unknown`` keeps."""
        if not self.held_unknown:
            return self
        return replace(self, held_unknown=(), held=tuple((a, None) for a in self.held_unknown),
                       speculative=max(self.speculative, 1))

    def with_held_counts(self, counts: dict[int, int]) -> "CowWorld":
        """This world with the given number of held references on each address's first page."""
        return replace(self, held=tuple((a, counts.get(a, n)) for a, n in self.held))

    def with_speculative(self, S: int) -> "CowWorld":
        """This world with up to S enumerated speculative references (the explicit counterpart of
        ``with_symbolic_refs``, where a symbolic counterexample replays at the S z3 found)."""
        scenario = self.scenario
        if scenario is not None:
            scenario = replace(scenario, events=scenario.events | {"spec"})
        return replace(self, speculative=max(S, 1), symbolic_refs=False, held_unknown=(), scenario=scenario,
                       actions=self.actions | {"spec_get", "spec_put"})

    def with_operations_as(self, renames: Mapping[str, str]) -> "CowWorld":
        """This scripted world with every operation of a kind ``renames`` names done as the kind it maps it to,
        one of the same form and reference (``{"pin_ro": "pin_ro_fast"}``: the same pin through GUP-fast),
        and everything else as it was: a scenario's twin through another path of the kernel, built (and
        checked) as the scenario itself was."""
        from modelcheck.cow.operations import OPERATIONS

        sc = self.scenario
        if sc is None or sc.schedule:
            raise WorldError("only a scripted world without a schedule has operations to do another way")
        for old, new in renames.items():
            a, b = OPERATIONS.get(old), OPERATIONS.get(new)
            if a is None or b is None or (a.form, a.reference, a.foll_write, a.longterm) != \
                    (b.form, b.reference, b.foll_write, b.longterm):
                raise WorldError(f"{old!r} cannot be done as {new!r}: not operations of one form and reference")

        def renamed(text: str) -> str:
            kind, _, rest = text.partition(" ")
            return f"{renames.get(kind, kind)} {rest}".rstrip()

        return self._twin(renamed)

    def with_hugetlb(self) -> "CowWorld":
        """This scripted world with its memory hugetlb pages (cow.c's "with hugetlb" run of a base-page test,
        MAP_PRIVATE|MAP_HUGETLB; of a file test, its "memfd hugetlb" run: the file a hugetlbfs one, memfd_create
        with MFD_HUGETLB), everything else as it was."""
        sc = self.scenario
        return self._twin(hugetlb=True, file="hugetlbfs" if sc is not None and sc.file else None)

    def with_thp(self, pages: int, pte_mapped: bool = False) -> "CowWorld":
        """This scripted world with its memory from a0 on one THP of ``pages`` pages, mapped by a PMD in the
        parent at first (cow.c's "with PMD-mapped THP" run of a base-page test; ``pte_mapped``: by PTEs, its
        "PTE-mapped THP" run), everything else as it was."""
        return self._twin(thp=pages, thp_pte=pte_mapped)

    def over_the_whole_thp(self) -> "CowWorld":
        """This THP world with each munmap and mprotect done on the THP's whole range instead of one page (what
        cow.c's tests do to the memory they are given, the whole THP): a twin as ``with_operations_as`` makes."""
        return self.with_operations_as(WHOLE_THP_RANGE)

    def single_pte_of_thp(self, swapped: bool = False) -> "CowWorld":
        """This THP world with every page of the THP but a0 unmapped first (cow.c's "single PTE of a THP": it
        discards the rest with MADV_DONTNEED, which splits the PMD; nothing touches them again, so the twin's
        munmap, which zaps the same PTEs and drops the same references, stands for it); ``swapped``: then paged
        out (its "single PTE of a swapped-out THP": MADV_PAGEOUT of the one page splits the folio)."""
        thp = self._thp_pages("a single PTE of a THP")
        return self.with_prologue([("parent", f"munmap a{a}") for a in range(1, thp)]
                                  + ([("parent", "pageout_thp a0")] if swapped else []))

    def thp_swapped_out(self) -> "CowWorld":
        """This THP world with the THP paged out first (cow.c's "swapped-out" runs: MADV_PAGEOUT of the whole
        range, ``pageout_thp``), however it is mapped."""
        self._thp_pages("a swapped-out THP")
        return self.with_prologue([("parent", "pageout_thp a0")])

    def thp_partly_remapped(self) -> "CowWorld":
        """This THP world with the THP's upper half moved first to addresses of its own after the scenario's
        (cow.c's "partially mremap()'ed THP": mremap(MREMAP_FIXED) of the half splits the PMD, and the moved
        PTEs still map the folio's pages)."""
        thp = self._thp_pages("a partially mremap()'ed THP")
        half, beyond = thp // 2, max(self.scenario.addresses if self.scenario else 0, thp)
        return self.with_prologue([("parent", f"mremap a{thp - half + n} a{beyond + n}") for n in range(half)],
                                  addresses=beyond + half)

    def thp_partly_shared(self) -> "CowWorld":
        """This THP world with the THP's first page shared with a child that exits at once, first (cow.c's
        "partially shared THP": MADV_DONTFORK of the rest, fork, the child's exit(0), wait, MADV_DOFORK); the
        scenario's children are numbered after that child."""
        thp = self._thp_pages("a partially shared THP")
        rest = range(1, thp)
        return self.with_prologue([("parent", f"dontfork a{a}") for a in rest] + [
            ("parent", "fork"), ("child1", "exit"), ("parent", "wait child1")] + [
            ("parent", f"dofork a{a}") for a in rest])

    def _thp_pages(self, what: str) -> int:
        if self.scenario is None or not self.scenario.thp:
            raise WorldError(f"{what} needs a world with a THP (thp=N, or with_thp)")
        return self.scenario.thp

    def without_schedule(self) -> "CowWorld":
        """This scripted world with every interleaving from its first step (its schedule dropped)."""
        if self.scenario is None:
            raise WorldError("without_schedule needs a scripted world")
        return replace(self, scenario=replace(self.scenario, schedule=()))

    def with_prologue(self, steps: Sequence[tuple[str, str]], addresses: int = 0) -> "CowWorld":
        """This scripted world with ``steps`` (thread, operation) done first, in this order, before any other
        step (a schedule pins them), as a selftest prepares the memory it hands its test: each operation goes
        before the thread's program, and where the prologue forks, the scenario's children are numbered after
        the prologue's (``wait childN`` with them). ``addresses``: the world's, where the prologue needs more."""
        forks = sum(1 for thread, text in steps if thread == "parent" and text == "fork")

        def child_renamed(name: str) -> str:
            if not forks or not name.startswith("child"):
                return name
            number, dot, thread = name[len("child"):].partition(".")
            return f"child{int(number) + forks}{dot}{thread}"

        def renamed(text: str) -> str:
            kind, _, rest = text.partition(" ")
            return f"wait {child_renamed(rest)}" if kind == "wait" else text

        return self._twin(renamed, thread_renamed=child_renamed, prologue=steps, addresses=addresses)

    def _twin(self, renamed: Callable[[str], str] = str, thread_renamed: Callable[[str], str] = str,
              prologue: Sequence[tuple[str, str]] = (), addresses: int = 0, file: str | None = None,
              **changes: Any) -> "CowWorld":
        """This scripted world built again as its scenario was, with each operation's text ``renamed``, each
        thread ``thread_renamed``, the ``prologue``'s steps done first, the mapped ``file`` of another kind and
        the memory ``changes`` (thp, thp_pte, hugetlb) made; refused for a world with a schedule, which names
        steps of the programs as they were."""
        sc = self.scenario
        if sc is None or sc.schedule:
            raise WorldError("only a scripted world without a schedule can have a twin (operations done another "
                             "way, a prologue, or its memory a THP or hugetlb pages)")
        file = sc.file if file is None else file
        memory = {"thp": sc.thp, "thp_pte": sc.thp_pte, "hugetlb": sc.hugetlb} | changes
        programs: dict[str, list[str]] = {}
        for thread, text in prologue:
            programs.setdefault(thread, []).append(text)
        for t in sc.threads:
            programs.setdefault(thread_renamed(t.name), []).extend(renamed(op.text) for op in t.program)
        twin = CowWorld.scripted(programs, events=sorted(sc.events), speculative=self.speculative,
                                 addresses=max(sc.addresses, memory["thp"], addresses), tlb=sc.tlb,
                                 config=self.config, fresh=[f"a{a}" for a in sorted(sc.fresh)], file=file,
                                 maps={f"a{a}": how for a, how in sc.maps} or None,
                                 cpus={thread_renamed(t.name): t.cpu for t in sc.threads if t.cpu} or None,
                                 schedule=[thread for thread, _ in prologue], **memory)
        return replace(self, scenario=twin.scenario, speculative=twin.speculative)

    def describe(self) -> str:
        if self.scenario is not None:
            s = self.scenario
            events = f", events {', '.join(sorted(s.events))}" if s.events else ""
            spec = f" S={self.speculative}" if "spec" in s.events else ""
            tlb = ", TLBs" if s.tlb else ""
            tlb += f", a schedule of {len(s.schedule)} steps" if s.schedule else ""
            tlb += "".join(f", {t.name} on CPU {t.cpu}" for t in s.threads if t.cpu)
            unknown = ", any number of unknown references per page and step (symbolic)" if self.symbolic_refs else ""
            if self.held_unknown:
                unknown += ", references held outside on " + " ".join(f"a{a}" for a in self.held_unknown)
            if self.held:
                unknown += ", references held outside: " + " ".join(
                    f"a{a} {'any number' if n is None else n}" for a, n in self.held)
            kernel = f", kernel {self.config.describe()}" if self.config != FULL_KERNEL else ""
            files = (f", a {s.file} file mapped " + ", ".join(f"{how} at a{a}" for a, how in s.maps)) if s.maps else ""
            mapped = "untouched" if 0 in s.fresh else f"{'PTE' if s.thp_pte else 'PMD'}-mapped"
            files += f", a THP of {s.thp} pages at a0-a{s.thp - 1} ({mapped})" if s.thp else ""
            files += ", hugetlb memory" if s.hugetlb else ""
            return (f"scripted: {len(s.threads)} thread(s), {s.processes} process(es), "
                    f"{s.addresses} address(es){files}{tlb}{events}{spec}{unknown}{kernel}")
        text = f"W({self.processes},{self.addresses},{'*' if self.symbolic_refs else self.speculative})"
        if self.actions != frozenset(ACTION_KINDS):
            text += " with " + ", ".join(k for k in ACTION_KINDS if k in self.actions)
        if self.held_unknown:
            text += ", references held outside on " + " ".join(f"a{a}" for a in self.held_unknown)
        if self.config != FULL_KERNEL:
            text += f", kernel {self.config.describe()}"
        return text

    def settings(self) -> dict[str, object]:
        """What a trace of this world must carry to be reproduced outside the model: the kernel's build
        configuration (a C reproducer checks the running kernel has it), and the addresses that start
        untouched (``fresh``), where there are any."""
        settings: dict[str, object] = {"kernel_config": self.config.to_json()}
        if self.scenario is not None and self.scenario.fresh:
            settings["fresh"] = [f"a{a}" for a in sorted(self.scenario.fresh)]
        if self.scenario is not None and self.scenario.maps:
            settings["file"] = self.scenario.file
            settings["maps"] = {f"a{a}": how for a, how in self.scenario.maps}
        if self.scenario is not None and any(t.cpu for t in self.scenario.threads):
            settings["cpus"] = {t.name: t.cpu for t in self.scenario.threads if t.cpu}
        return settings

    # -- what a spec may ask of a world ---------------------------------------------
    def variants(self) -> list[str]:
        """"symbolic": speculative and transient references as an unknown number per page and step (z3);
        "parameters": references held outside the scenario in an unknown number as a parameter of the run."""
        return [name for name in ("symbolic", "parameters") if self.variant(name) is not None]

    def variant(self, name: str) -> "CowWorld | None":
        """This world as one of its ``variants``; None where it has no such variant."""
        if name == "symbolic":
            return self.with_symbolic_refs()
        if name == "parameters":
            return self.with_held_as_parameters() if self.held_unknown else None
        return None

    def policy_names(self) -> list[str]:
        return policy_names()

    def invariant_names(self) -> list[str]:
        return _invariants.names()

    def required_coverage(self) -> list[str]:
        """What every complete run must fire, or it proved nothing: each scripted thread's end (a thread that
        can never finish its program, such as a ``pipe_read`` of a pipe nothing fills or an ``await`` of a token
        whose signal never comes, makes a run vacuous)."""
        scenario = self.scenario
        return [f"end:{t.name}" for t in scenario.threads] if scenario is not None else []

    def coverage_names(self) -> list[str]:
        """Every coverage item a run of this world can report (what a spec's ``covers`` may name)."""
        from modelcheck.cow.coverage import Coverage
        from modelcheck.cow.kernel import Machine

        return Coverage(Machine.build(self, (), uses_exclusive=False)).names()

    def model(self, policy: str | Policy, invariants: Iterable[str]) -> CowModel:
        """This world bound to ``policy`` (a name, or a policy of one's own), checking ``invariants``, with
        the capabilities it offers the engine (``capabilities``)."""
        from modelcheck.cow.capabilities import bind

        return bind(self, get_policy(policy) if isinstance(policy, str) else policy, tuple(invariants))
