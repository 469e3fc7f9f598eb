"""Unknown references in the COW world: how z3's decisions (``symbolic``) reach its policy and its states.

``modelcheck.engine.symbolic.counts`` is generic: unknown counts, tests of them in a
normal form, a step run once per feasible outcome. This module is what the COW
world makes of it: which unknowns a page has (``u<page>``, fresh at every step, and
``h<k>``, references held outside the scenario for the whole run), where the
state keeps what the steps learnt of the held ones (an interval per holder),
the words for them, and the explicit world a symbolic counterexample replays
on. z3 is imported only when a world with unknown references is built.

The references nobody in the scenario controls are one unknown ``u<page> >= 0``
per page, fresh at every step: speculative and transient references come and
go between any two steps of the kernel, so a step may meet any number of them,
and within one step the number is fixed. A policy keeps reading
``page.refcount``; during a symbolic step that is a ``SymCount``. Unknown
*holders* are references held outside the scenario for the whole run (pipes a
process vmsplice'd before it, O_DIRECT requests in flight), one unknown
``h<k> >= 0`` per holder, the same at every step; the state carries what the
steps have learnt of each as an interval. Unknown references hold no page
alive: once the references the world tracks are gone nothing can observe the
page, so freeing it then changes no verdict.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Protocol, Sequence

from modelcheck.cow.kernel import Slots

if TYPE_CHECKING:
    from modelcheck.cow.actions import Act
    from modelcheck.cow.layout import Layout
    from modelcheck.engine.symbolic.counts import Decisions, Domain, Test
    from modelcheck.cow.world import CowWorld

Successors = list[tuple["Act", Any]]


class Stepped(Protocol):
    """What ``explicit_counterpart`` needs of a model: its initial state, its steps and their labels."""

    layout: Layout

    def initial_states(self) -> Sequence[tuple]: ...

    def successors(self, state: tuple) -> Successors: ...

    def action_label(self, act: Act) -> str: ...


class UnknownReferences:
    """The hook through which unknown references reach the policy (``mechanisms.memory.info``).

    ``decisions`` is set while a step is being taken for one combination of
    outcomes; outside a step it is None and every count is the known one.
    """

    def __init__(self, world: CowWorld, layout: Layout) -> None:
        from modelcheck.engine.symbolic.counts import Feasibility

        self.world = world
        self.layout = layout
        self.feasibility = Feasibility()
        self.decisions: Decisions | None = None
        self._outcomes: dict[tuple[Act, tuple[tuple[str, int], ...]], Act] = {}  # the action of each outcome

    def count(self, known: int, page: int, s: Slots, decisions: Decisions) -> Any:
        """The refcount a policy sees during a step (``decisions``): ``known`` plus the page's unknown
        references (transient ones, and the held ones attached to it); a plain number when it has none."""
        L = self.layout
        names: tuple[str, ...] = (f"u{page}",) if self.world.symbolic_refs else ()
        names += tuple(f"h{k}" for k in range(L.features.held) if s[L.held_base + 3 * k] == page + 1)
        if not names:
            return known
        from modelcheck.engine.symbolic.counts import SymCount

        return SymCount(names, known, decisions)

    def take_every_outcome(self, s: tuple, out: Successors, take: Callable[[Successors], None]) -> None:
        """Take a step once per feasible outcome of the refcount tests it makes (``take(found)`` takes it
        for the outcome being decided).

        Each outcome's action carries the smallest counts z3 finds for it (which tells it apart from
        the operation's other outcomes); a held unknown's interval in the successor is what the state
        knew narrowed by the outcome's tests.
        """
        from modelcheck.engine.symbolic.counts import every_outcome

        def attempt(decisions: Decisions) -> Successors:
            self.decisions = decisions
            try:
                found: Successors = []
                take(found)
                return found
            finally:
                self.decisions = None

        domain = self.held_domain(s)
        for found, decisions in every_outcome(self.feasibility, attempt, domain):
            tests = tuple(decisions.tests)
            counts = self.feasibility.witness(tests, domain) if tests else {}
            unknown = tuple((name, n) for name, n in sorted(counts.items()) if n)
            for act, after in found:
                if unknown:
                    act = self._outcomes.setdefault((act, unknown), act._replace(unknown=unknown))
                after = self.narrow_held(after, tests, domain)
                if (act, after) not in out:
                    out.append((act, after))

    def held_domain(self, s: Slots) -> Domain:
        """What ``s`` knows of each held unknown still attached to a page: (name, least, most or None)."""
        L = self.layout
        domain = []
        for k in range(L.features.held):
            i = L.held_base + 3 * k
            if s[i]:
                domain.append((f"h{k}", s[i + 1], s[i + 2] - 1 if s[i + 2] else None))
        return tuple(domain)

    def narrow_held(self, after: tuple, tests: tuple[Test, ...], domain: Domain) -> tuple:
        named = {n for names, _, _ in tests for n in names}
        if not any(name in named for name, _, _ in domain):
            return after
        L = self.layout
        t = list(after)
        for name, _, _ in domain:
            if name in named:
                i = L.held_base + 3 * int(name[1:])
                if t[i]:  # still attached after the step
                    least, most = self.feasibility.interval(name, tests, domain)
                    t[i + 1], t[i + 2] = least, 0 if most is None else most + 1
        return tuple(t)

    def figures(self) -> dict[str, float]:
        """The solver's figures of the run."""
        return self.feasibility.stats.as_dict()


def unknown_words(name: str, n: int) -> str:
    """An unknown count in words: ``u<page>`` transient ones on a page, ``h<k>`` held outside."""
    return f"{n} unknown on page {name[1:]}" if name[0] == "u" else f"{n} held outside ({name})"


def explicit_counterpart(model: Stepped, world: CowWorld, labels: Sequence[str]) -> tuple[CowWorld, list[str]]:
    """A symbolic counterexample of ``model`` (of ``world``) as a trace of the explicit world at the S z3's
    counts need. Held references are taken first, as many as the last state allows at least, as
    speculative references on their pages that stay; each step's transient ones are taken before it
    and dropped after it (except after the last, the violating one)."""
    state, steps, most = model.initial_states()[0], [], 0
    for n, label in enumerate(labels, start=1):
        options = {model.action_label(a): (a, t) for a, t in model.successors(state)}
        if label not in options:
            raise ValueError(f"step {n} '{label}' is not enabled")
        act, after = options[label]
        transient = [(int(name[1:]), k) for name, k in act.unknown if name[0] == "u"]
        most = max(most, sum(k for _, k in transient))
        steps += [f"kernel spec_get(page {page})" for page, k in transient for _ in range(k)]
        steps.append(label.rpartition(" [")[0])
        if n < len(labels):
            steps += [f"kernel spec_put(page {page})" for page, k in transient for _ in range(k)]
        state = after
    L = model.layout
    held = [(world.held_unknown[k], state[L.held_base + 3 * k + 1]) for k in range(L.features.held)]
    first = [f"kernel spec_get(page {a})" for a, k in held for _ in range(k)]
    return world.with_speculative(most + sum(k for _, k in held)), first + steps
