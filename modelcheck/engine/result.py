"""What a search returns: a verdict, statistics and counterexample traces.

A ``Trace`` is self-contained (labels, descriptions and JSON pictures of the
states are rendered when it is built), so the faces can print or export it
without ever touching the model again.
"""

from __future__ import annotations

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

    def to_json(self) -> dict[str, Any]:
        return {"index": self.index, "actor": self.actor, "label": self.label,
                "changes": list(self.changes), "state": self.state}


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
