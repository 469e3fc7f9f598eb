"""What a search returns: a verdict, statistics and counterexample traces.

A ``Trace`` is self-contained (labels, descriptions and JSON pictures of the
states are rendered when it is built), so the faces can print or export it
without ever touching the model again.
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from modelcheck.engine.errors import StopReason


class Verdict(str, Enum):
    HOLDS = "holds"
    VIOLATED = "violated"
    INCOMPLETE = "incomplete"

    def __str__(self) -> str:
        return self.value

    @classmethod
    def of(cls, violated: bool, complete: bool) -> "Verdict":
        """A violation found is a verdict even in an unfinished run; otherwise unfinished means incomplete."""
        if violated:
            return cls.VIOLATED
        return cls.HOLDS if complete else cls.INCOMPLETE


@dataclass(frozen=True)
class Step:
    """One action of a counterexample: who did what, and what changed."""

    index: int
    actor: str
    label: str
    changes: tuple[str, ...]
    state: Any  # JSON picture of the state after the step
    judged: tuple[tuple[str, bool], ...] = ()  # each property the model checks: holds after (or across) the step

    def to_json(self) -> dict[str, Any]:
        return {"index": self.index, "actor": self.actor, "label": self.label,
                "changes": list(self.changes), "state": self.state, "properties": dict(self.judged)}


@dataclass(frozen=True)
class Decision:
    """A choice made at one step of a trace, and what the same schedule does with it the other way.

    ``flipped`` is "avoids" (the schedule runs to its end without the
    violation), "still_violated" (at ``flipped_step``), "diverges" (the schedule
    cannot go on at ``flipped_step``) or "blocked" (the other way cannot be
    taken at all); ``also`` names another property the flipped run violates.
    """

    step: int
    actor: str
    kind: str
    outcome: str
    alternative: str
    why: str
    flipped: str
    flipped_step: int | None
    words: str  # the sentence to show: the step, the choice and why, and what the other way does
    data: Any = None  # JSON-able details from the model
    also: str | None = None

    @property
    def deciding(self) -> bool:
        """Taking the other way at this step avoids the violation along the same schedule."""
        return self.flipped == "avoids"

    def to_json(self) -> dict[str, Any]:
        return {"step": self.step, "actor": self.actor, "decision": self.kind, "outcome": self.outcome,
                "alternative": self.alternative, "why": self.why, **(self.data or {}),
                "flipped": {"result": self.flipped, "step": self.flipped_step, "also": self.also},
                "deciding": self.deciding, "words": self.words}


@dataclass(frozen=True)
class Minimization:
    """How a trace was minimized (``--minimize``): its length as found, and whether it is now a shortest
    one (``shortest``: no violation of its property has fewer steps; with ``actors``, none among the actions
    of those actors only, the bounded search over all of them having run out of room)."""

    original: int
    shortest: bool
    actors: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"from": self.original, "shortest": self.shortest, "actors": list(self.actors)}


@dataclass(frozen=True)
class Trace:
    """A path from an initial state to a violation of ``property``."""

    property: str
    explanation: str
    initial_state: Any
    steps: tuple[Step, ...]
    parameters: tuple[tuple[str, int], ...] = ()  # (name, value) of the run's parameters a search chose (bmc)
    decisions: tuple[Decision, ...] = ()  # the model's choices along it (``Decisive`` models), flipped one by one

    @builtins.property  # (the field ``property`` hides the builtin here)
    def deciding(self) -> tuple[Decision, ...]:
        """The choices whose other way avoids the violation along the same schedule."""
        return tuple(d for d in self.decisions if d.deciding)

    @builtins.property  # (the field ``property`` hides the builtin here)
    def culprit(self) -> Decision | None:
        """The deciding choice nearest the violation (the last one before it), if any."""
        deciding = self.deciding
        return deciding[-1] if deciding else None
    minimized: Minimization | None = None  # set when --minimize shrank (or tried to shrink) it

    def __len__(self) -> int:
        return len(self.steps)

    def labels(self) -> list[str]:
        return [step.label for step in self.steps]


@dataclass(frozen=True)
class Violation:
    """A property that failed, how often (with --no-stop), and its first trace."""

    property: str
    count: int
    trace: Trace


@dataclass(frozen=True)
class Stats:
    states: int
    transitions: int
    depth: int
    seconds: float
    max_frontier: int = 0

    @property
    def states_per_second(self) -> float:
        return self.states / self.seconds if self.seconds > 0 else float(self.states)


@dataclass(frozen=True)
class Result:
    """What one run found. Built in one place only (``engine.run.Run.result``)."""

    verdict: Verdict
    stats: Stats
    stop: StopReason
    violations: tuple[Violation, ...] = ()
    incomplete_reason: str | None = None  # why the search did not finish, in words (None: it finished)
    strategy: str = "bfs"
    counts: dict[str, int] = field(default_factory=dict)  # TransitionCount name -> matches
    covered: tuple[str, ...] = ()        # coverage items that fired
    not_covered: tuple[str, ...] = ()    # coverage items the model offers that never fired
    coverage_known: bool = True          # False: the strategy does not enumerate what fired (bmc)
    reductions: tuple[str, ...] = ()     # reductions the run applied (their traces replay under them)
    notes: tuple[str, ...] = ()          # what the run did other than what was asked, and why
    figures: dict[str, Any] = field(default_factory=dict)        # the strategy's own figures (store, workers ...)
    model_figures: dict[str, float] = field(default_factory=dict)  # the model's own figures (``Counted``)

    @property
    def interrupted(self) -> bool:
        return self.stop is StopReason.INTERRUPTED

    @property
    def counterexample(self) -> Trace | None:
        """The first violation's trace (the shortest one under breadth-first search)."""
        return self.violations[0].trace if self.violations else None
