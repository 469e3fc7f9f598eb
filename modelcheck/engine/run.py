"""One run of one strategy on one model: the limits, the progress, what was found, and the result.

Every strategy reports through a ``Run``: it counts states and transitions
into it, asks it whether a limit is reached, hands it each violation with its
trace, and ends by returning (the search is exhausted) or by raising
``Stopped``. ``Run.result`` is the only place a ``Result`` is built, so a
verdict, a stop reason and a coverage report mean the same under every
strategy.
"""

from __future__ import annotations

import time
from typing import Any, Iterable, Sequence

from modelcheck.engine.checkpoint import CheckpointError, Checkpoints
from modelcheck.engine.errors import StopReason, Stopped
from modelcheck.engine.memory import mib, resident_bytes
from modelcheck.engine.model import (Action, Counted, Covered, Invariant, Model, Symmetric, TransitionCheck,
                                     split_properties)
from modelcheck.engine.options import SearchOptions
from modelcheck.engine.progress import Progress
from modelcheck.engine.result import Result, Stats, Trace, Verdict, Violation

REPORT_EVERY = 0.2  # seconds between progress updates


NO_SYMMETRY = "--reduce: this model offers no symmetry reduction, so every state was searched as it is"


class Run:
    """The state of one search, shared by the strategy and the driver."""

    def __init__(self, model: Model, options: SearchOptions, progress: Progress, strategy: str,
                 notes: Sequence[str] = (), checkpoints: Checkpoints | None = None,
                 started: float | None = None) -> None:
        self.model = model
        self.options = options
        self.progress = progress
        self.strategy = strategy
        self.invariants: list[Invariant]
        self.checks: list[TransitionCheck]
        self.invariants, self.checks, self.counters = split_properties(model)
        self.started = time.perf_counter() if started is None else started  # the clock may have started with
                                                                             # the model's construction
        self.deadline = self.started + options.time_limit if options.time_limit else None
        self.memory_limit = options.max_memory  # this process's share of it (a worker's is smaller)
        self.states = self.transitions = self.depth = self.max_frontier = 0
        self.violations: dict[str, Violation] = {}
        self.notes = list(notes)
        self.figures: dict[str, Any] = {}
        self.reductions: tuple[str, ...] = ()
        self.fired: Iterable[Action] = ()     # the distinct actions that fired (for coverage)
        self.covered_elsewhere: set[str] = set()  # coverage items other processes of the run saw
        self.coverage_known = True
        self.stop: StopReason | None = None
        self.stop_detail = ""
        self._last_report = self.started
        self.checkpoints = checkpoints
        self.seconds_before = 0.0  # spent by the runs this one resumes

    # -- checkpoints --------------------------------------------------------------------------------------------
    def interrupt_requested(self) -> bool:
        """A stop signal arrived and the search should stop where it can save a checkpoint."""
        return self.checkpoints is not None and self.checkpoints.requested()

    def checkpoint_due(self) -> bool:
        return self.checkpoints is not None and self.checkpoints.due()

    def save(self, kind: str, backend: dict[str, Any]) -> None:
        """Save a snapshot of the strategy's ``kind`` (its backend's data) with the run's own figures."""
        assert self.checkpoints is not None
        self.checkpoints.saved({
            "kind": kind, "backend": backend, "states": self.states, "transitions": self.transitions,
            "depth": self.depth, "max_frontier": self.max_frontier, "counters": dict(self.counters),
            "violations": dict(self.violations), "seconds": self.seconds_before + time.perf_counter() - self.started})

    def resumed(self, kind: str) -> dict[str, Any] | None:
        """The backend data of the snapshot this run continues from (its own figures restored), or None."""
        snapshot = self.checkpoints.resumed if self.checkpoints is not None else None
        if snapshot is None:
            return None
        if snapshot.get("kind") != kind:
            raise CheckpointError(f"the checkpoint holds a search of the {snapshot.get('kind')} kind, "
                                  f"this one is of the {kind} kind")
        self.states, self.transitions = snapshot["states"], snapshot["transitions"]
        self.depth, self.max_frontier = snapshot["depth"], snapshot["max_frontier"]
        self.counters.update(snapshot["counters"])  # in place: the counting checks hold this dict
        self.violations = dict(snapshot["violations"])
        self.seconds_before = snapshot["seconds"]
        return snapshot["backend"]

    # -- what a strategy asks ------------------------------------------------------------------------------------
    def canonical(self) -> Any:
        """The model's representative function when the run reduces by symmetry, else None."""
        if self.options.reduce and isinstance(self.model, Symmetric):
            self.reductions = ("symmetry",)
            return self.model.canonical
        if self.options.reduce and NO_SYMMETRY not in self.notes:
            self.notes.append(NO_SYMMETRY)
        return None

    def check_limits(self, states: int | None = None) -> None:
        """Stop when the clock, the memory or the state count is past its limit, or a stop signal asks to."""
        if self.interrupt_requested():
            raise Stopped(StopReason.INTERRUPTED)
        if self.deadline is not None and time.perf_counter() >= self.deadline:
            raise Stopped(StopReason.TIME_LIMIT)
        self.check_memory()
        most = self.options.max_states
        if most is not None and (self.states if states is None else states) >= most:
            raise Stopped(StopReason.STATE_LIMIT)

    def check_memory(self) -> None:
        """Stop before the machine swaps: the resident set against the limit."""
        if self.memory_limit is not None:
            held = resident_bytes()
            if held >= self.memory_limit:
                raise Stopped(StopReason.MEMORY_LIMIT, f"{mib(held)} resident")

    def tick(self, frontier: int = 0) -> None:
        """Limits and progress, every so often from the hot loop."""
        self.max_frontier = max(self.max_frontier, frontier)
        self.check_limits()
        now = time.perf_counter()
        if now - self._last_report >= REPORT_EVERY:
            self._last_report = now
            self.progress.update(states=self.states, transitions=self.transitions, frontier=frontier,
                                 depth=self.depth)

    # -- what a strategy reports ------------------------------------------------------------------------------------
    def found(self, name: str, trace: Trace | None = None, count: int = 1) -> None:
        """A violation of ``name``: the first one keeps its trace (build it only if ``wants_trace``), later ones
        are counted. Stops the run when it stops at the first violation."""
        self.record(name, trace, count)
        if self.options.stop_at_first:
            raise Stopped(StopReason.FIRST_VIOLATION)

    def record(self, name: str, trace: Trace | None, count: int = 1) -> None:
        """As ``found``, without stopping (a strategy that gathers violations before it stops)."""
        seen = self.violations.get(name)
        if seen is None:
            if trace is None:
                raise ValueError(f"the first violation of {name} needs its trace")
            self.violations[name] = Violation(name, count, trace)
        else:
            self.violations[name] = Violation(name, seen.count + count, seen.trace)

    def wants_trace(self, name: str) -> bool:
        return name not in self.violations

    def note(self, text: str) -> None:
        self.notes.append(text)

    # -- the end ------------------------------------------------------------------------------------------------------
    def stop_sentence(self) -> str | None:
        """Why the run ended, in words; None when it ended complete."""
        stop = self.stop or StopReason.EXHAUSTED
        o = self.options
        if stop.complete:
            return None
        if stop is StopReason.TIME_LIMIT:
            return f"time limit of {o.time_limit:g} s reached"
        if stop is StopReason.STATE_LIMIT:
            over = f" ({self.states:,} stored)" if self.states != o.max_states else ""
            return f"state limit of {o.max_states:,} reached{over}"
        if stop is StopReason.DEPTH_BOUND:
            return f"no violation within {o.depth} steps (depth bound)"
        if stop is StopReason.MEMORY_LIMIT:
            limit = f"memory limit of {mib(o.max_memory or 0)} reached"
            return f"{limit} ({self.stop_detail})" if self.stop_detail else limit
        if stop is StopReason.OUT_OF_MEMORY:
            return "out of memory: the allocator refused" + (f" ({self.stop_detail})" if self.stop_detail else "")
        if stop is StopReason.INTERRUPTED:
            return "interrupted by the user"
        if stop is StopReason.SOLVER_GAVE_UP:
            return f"z3 gave up on a question ({self.stop_detail})"
        if stop is StopReason.WALKS_DONE:
            return (f"no violation in {self.figures.get('walks', 0):,} random walks of at most {o.depth} steps "
                    "(a simulation never shows that a property holds)")
        return self.stop_detail or stop.value

    def result(self) -> Result:
        stop = self.stop or StopReason.EXHAUSTED
        if self.violations and self.options.stop_at_first:
            # a batch or a second worker may have seen more before stopping: not counted
            violations = tuple(Violation(v.property, 1, v.trace) for v in self.violations.values())
        else:
            violations = tuple(self.violations.values())
        verdict = Verdict.of(bool(violations), stop.complete)
        covered, not_covered = self._coverage()
        stats = Stats(states=self.states, transitions=self.transitions, depth=self.depth,
                      seconds=self.seconds_before + time.perf_counter() - self.started, max_frontier=self.max_frontier)
        model_figures = dict(self.model.figures()) if isinstance(self.model, Counted) else {}
        return Result(verdict=verdict, stats=stats, stop=stop, violations=violations,
                      incomplete_reason=self.stop_sentence(),
                      strategy=self.strategy, counts=dict(self.counters), covered=covered, not_covered=not_covered,
                      coverage_known=self.coverage_known, reductions=self.reductions, notes=tuple(self.notes),
                      figures=dict(self.figures), model_figures=model_figures)

    def _coverage(self) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """(covered, never covered) items, for models that name them."""
        if not isinstance(self.model, Covered) or not self.coverage_known:
            return (), ()
        covered = set(self.model.coverage_items(self.fired)) | self.covered_elsewhere
        return tuple(sorted(covered)), tuple(item for item in self.model.coverage_universe() if item not in covered)
