"""Explicit-state search: breadth-first (shortest counterexamples) or depth-first.

Each distinct state is stored once, with the index of the state it was first
reached from and the action that reached it; a counterexample is rebuilt by
walking those back-pointers. Under breadth-first search states are expanded in
order of depth, so the first violation found is a shortest one.

Limits (``max_states``, ``time_limit``) and Ctrl-C end a run as *incomplete*,
never as *holds*.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Any

from modelcheck.engine.model import Model, TransitionCheck, coverage_of, split_properties
from modelcheck.engine.progress import Progress
from modelcheck.engine.result import Result, Stats, Trace, Verdict, Violation
from modelcheck.engine.traces import counterexample
from modelcheck.symbolic import SolverGaveUp

STRATEGIES = ("bfs", "dfs", "dpor", "bmc")
STORES = ("dict", "compact", "fingerprint")
_CHECK_EVERY = 1024  # expansions between looks at the clock


@dataclass(frozen=True)
class SearchOptions:
    strategy: str = "bfs"
    stop_at_first: bool = True
    max_states: int | None = None
    time_limit: float | None = None
    reduce: bool = False  # apply the reductions the model offers (its ``canonical`` state, for symmetry)
    store: str | None = None  # dict (exact, back-pointers), compact (exact, packed) or fingerprint;
    #                           None: dict for one process, compact for several
    workers: int = 1          # processes, each owning a hash partition of the store
    depth: int | None = None  # bmc: the most steps a counterexample may have

    def __post_init__(self) -> None:
        if self.strategy not in STRATEGIES:
            raise ValueError(f"unknown search strategy {self.strategy!r} (known: {', '.join(STRATEGIES)})")
        if self.store is not None and self.store not in STORES:
            raise ValueError(f"unknown store {self.store!r} (known: {', '.join(STORES)})")
        if self.workers < 1:
            raise ValueError(f"workers must be at least 1, not {self.workers}")
        if self.workers > 1 and self.store == "dict":
            raise ValueError("several workers need a compact or fingerprint store, not dict")
        if self.strategy == "dfs" and (self.workers > 1 or self.store not in (None, "dict")):
            raise ValueError("depth-first search runs in one process over the dict store")
        if self.strategy == "bmc" and (self.depth is None or self.depth < 1):
            raise ValueError("the bounded model checker needs --depth K, K at least 1")
        if self.strategy == "bmc" and (self.workers > 1 or self.store is not None or self.reduce
                                       or self.max_states is not None):
            raise ValueError("the bounded model checker keeps no states: it does not combine with --store, "
                             "--workers, --reduce or --max-states")
        if self.depth is not None and self.strategy != "bmc":
            raise ValueError("--depth bounds the bounded model checker (--engine bmc) only")
        if self.strategy == "dpor" and (self.workers > 1 or self.store is not None or self.reduce):
            raise ValueError("DPOR runs in one process without a state store and is a reduction of its own: "
                             "it does not combine with --store, --workers or --reduce")
        if self.max_states is not None and self.max_states < 1:
            raise ValueError(f"max_states must be at least 1, not {self.max_states}")
        if self.time_limit is not None and self.time_limit <= 0:
            raise ValueError(f"time_limit must be positive, not {self.time_limit}")


class WorkerFailed(RuntimeError):
    """A worker process of a run with several failed or vanished (its traceback, as text, when it had one)."""


class EnginesDisagree(RuntimeError):
    """A counterexample the bounded model checker found does not replay on the model itself."""


class _Stop(Exception):
    """Raised inside the search to end it (first violation, or a limit)."""

    def __init__(self, reason: str | None) -> None:
        super().__init__(reason)
        self.reason = reason


class _Explorer:
    """One run: the state store, back-pointers, violations found and the counters."""

    def __init__(self, model: Model, options: SearchOptions, progress: Progress) -> None:
        self.model = model
        self.options = options
        self.progress = progress
        self.invariants, self.transition_checks, self.counters = split_properties(model)
        self._checks_for: dict[Any, tuple[TransitionCheck, ...]] = {}
        self.index: dict[Any, int] = {}
        self.states: list[Any] = []
        self.parent: list[int] = []
        self.via: list[Any] = []
        self.found: dict[str, list[Any]] = {}  # property -> [count, trace]
        self.transitions = 0
        self.depth = 0
        self.max_frontier = 0
        self.max_states = options.max_states or -1
        # symmetry: the model maps every state to one representative of its orbit; the search stores
        # representatives only. Checks still see the real successor.
        self.canonical = getattr(model, "canonical", None) if options.reduce else None
        self.started = time.perf_counter()
        self.deadline = self.started + options.time_limit if options.time_limit else None
        self._last_report = self.started

    # -- the store ---------------------------------------------------------------
    def add(self, state: Any, parent: int, action: Any) -> int:
        """Store a new state; check the state invariants on it."""
        if len(self.states) == self.max_states:
            raise _Stop(f"state limit of {self.max_states:,} reached")
        sid = len(self.states)
        self.index[state] = sid
        self.states.append(state)
        self.parent.append(parent)
        self.via.append(action)
        for inv in self.invariants:
            if not inv.holds(state):
                self.violation(inv.name, inv.explain(state), sid, None, None)
        return sid

    def checks_for(self, action: Any) -> tuple[TransitionCheck, ...]:
        checks = self._checks_for.get(action)
        if checks is None:
            checks = tuple(c for c in self.transition_checks if c.watches(action))
            self._checks_for[action] = checks
        return checks

    # -- violations and traces ----------------------------------------------------
    def violation(self, name: str, explanation: str, sid: int, action: Any, after: Any) -> None:
        entry = self.found.get(name)
        if entry is None:
            self.found[name] = [1, self.trace(name, explanation, sid, action, after)]
        else:
            entry[0] += 1
        if self.options.stop_at_first:
            raise _Stop(None)

    def path(self, sid: int) -> list[int]:
        ids = []
        while sid >= 0:
            ids.append(sid)
            sid = self.parent[sid]
        ids.reverse()
        return ids

    def trace(self, name: str, explanation: str, sid: int, action: Any, after: Any) -> Trace:
        """The path to state ``sid``, plus the violating transition when there is one."""
        ids = self.path(sid)
        hops = [(self.states[a], self.via[b], self.states[b]) for a, b in zip(ids, ids[1:])]
        if action is not None:
            hops.append((self.states[sid], action, after))
        return counterexample(self.model, self.canonical, self.invariants, self.transition_checks, name,
                              explanation, self.states[ids[0]], hops, action is not None)

    # -- limits and progress --------------------------------------------------------
    def tick(self, frontier: int) -> None:
        now = time.perf_counter()
        if frontier > self.max_frontier:
            self.max_frontier = frontier
        if self.deadline is not None and now >= self.deadline:
            raise _Stop(f"time limit of {self.options.time_limit:g} s reached")
        if now - self._last_report >= 0.2:
            self._last_report = now
            self.progress.update(states=len(self.states), transitions=self.transitions,
                                 frontier=frontier, depth=self.depth)

    # -- strategies -------------------------------------------------------------
    def bfs(self) -> None:
        """Expand states in the order they were stored, one depth level after another."""
        states, index, successors = self.states, self.index, self.model.successors
        cached_checks, checks_for, add = self._checks_for, self.checks_for, self.add
        canonical = self.canonical
        i = 0
        level = 0                # depth of the state being expanded
        level_end = len(states)  # first index of the next level
        while i < len(states):
            if i == level_end:
                level += 1
                level_end = len(states)
            state = states[i]
            for action, after in successors(state):
                self.transitions += 1
                checks = cached_checks.get(action)
                if checks is None:
                    checks = checks_for(action)
                for check in checks:
                    if not check.holds(state, action, after):
                        self.violation(check.name, check.explain(state, action, after), i, action, after)
                if canonical is not None and after is not state:  # a representative is its own
                    after = canonical(after)
                if after not in index:
                    add(after, i, action)
                    self.depth = level + 1
            i += 1
            if not i % _CHECK_EVERY:
                self.tick(len(states) - i)

    def dfs(self) -> None:
        """Depth-first with an explicit stack of successor iterators."""
        states, index, successors = self.states, self.index, self.model.successors
        checks_for, add = self.checks_for, self.add
        canonical = self.canonical
        stack = [(sid, states[sid], iter(successors(states[sid]))) for sid in reversed(range(len(states)))]
        expanded = 0
        while stack:
            sid, state, pending = stack[-1]
            for action, after in pending:
                self.transitions += 1
                for check in checks_for(action):
                    if not check.holds(state, action, after):
                        self.violation(check.name, check.explain(state, action, after), sid, action, after)
                if canonical is not None and after is not state:  # a representative is its own
                    after = canonical(after)
                if after not in index:
                    new = add(after, sid, action)
                    stack.append((new, after, iter(successors(after))))
                    if len(stack) - 1 > self.depth:
                        self.depth = len(stack) - 1
                    break
            else:
                stack.pop()
            expanded += 1
            if not expanded % _CHECK_EVERY:
                self.tick(len(stack))

    def run(self) -> Result:
        reason: str | None = None
        interrupted = False
        try:
            for state in self.model.initial_states():
                if self.canonical is not None:
                    state = self.canonical(state)
                if state not in self.index:
                    self.add(state, -1, None)
            if self.options.strategy == "bfs":
                self.bfs()
            else:
                self.dfs()
        except _Stop as stop:
            reason = stop.reason
        except SolverGaveUp as gave_up:  # a model whose steps ask z3 (symbolic references)
            reason = f"z3 gave up on a question ({gave_up})"
        except KeyboardInterrupt:
            reason, interrupted = "interrupted by the user", True
        finally:
            self.progress.close()
        seconds = time.perf_counter() - self.started
        stats = Stats(states=len(self.states), transitions=self.transitions, depth=self.depth,
                      seconds=seconds, max_frontier=self.max_frontier)
        violations = tuple(Violation(name, count, trace) for name, (count, trace) in self.found.items())
        covered, not_covered = coverage_of(self.model, self._checks_for.keys())
        return Result(verdict=Verdict.of(bool(violations), reason), stats=stats, violations=violations,
                      incomplete_reason=reason,
                      strategy=self.options.strategy, interrupted=interrupted, counts=dict(self.counters),
                      covered=covered, not_covered=not_covered,
                      reductions=("symmetry",) if self.canonical is not None else (),
                      store="dict")


def check(model: Model, options: SearchOptions | None = None, progress: Progress | None = None,
          title: str = "exploring") -> Result:
    """Search ``model`` and return its verdict, statistics and counterexamples."""
    result = _check(model, options or SearchOptions(), progress or Progress(), title)
    figures = getattr(model, "run_stats", None)
    return replace(result, model_stats=dict(figures())) if callable(figures) else result


def _check(model: Model, options: SearchOptions, progress: Progress, title: str) -> Result:
    if options.strategy == "bmc":
        from modelcheck.engine import bmc

        if not bmc.offers_bmc(model):
            raise ValueError("the bounded model checker needs a model that offers its steps one key at a "
                             "time (a scripted scenario without symbolic references)")
        progress.start(title)
        try:
            return bmc.run(model, options.depth, options.stop_at_first, options.time_limit, progress)
        finally:
            progress.close()
    if options.strategy == "dpor":
        return _dpor(model, options, progress, title)
    progress.start(title)
    if options.workers > 1:
        from modelcheck.engine import parallel
        return parallel.run(model, options, progress)
    store = store_of(options, model)
    if store != "dict":
        from modelcheck.engine import levels
        return levels.run(model, replace(options, store=store), progress)
    return _Explorer(model, options, progress).run()


def _dpor(model: Model, options: SearchOptions, progress: Progress, title: str) -> Result:
    """DPOR where the model declares its steps' footprints and every execution is finite; else
    breadth-first search, with a note saying why."""
    from modelcheck.engine import dpor

    if dpor.offers_dpor(model):
        progress.start(title)
        try:
            return dpor.run(model, options.max_states, options.time_limit, options.stop_at_first, progress)
        except dpor.NotFinite as loop:
            note = (f"DPOR needs finite executions, and an execution returned to one of its states "
                    f"(by {loop}): searched breadth-first instead")
    else:
        note = ("DPOR needs a model that declares its steps' footprints, and this one declares none for this "
                "world (an open world, whose executions never end, or one step with several outcomes): "
                "searched breadth-first instead")
    result = _check(model, replace(options, strategy="bfs"), progress, title)
    return replace(result, notes=result.notes + (note,))


def store_of(options: SearchOptions, model: Model | None = None) -> str:
    """The store a run uses: the one asked for; else compact in several processes, or in one when the
    model offers batch successors (the fastest exact form); else dict (back-pointers, depth-first too)."""
    if options.store is not None:
        return options.store
    if options.workers > 1:
        return "compact"
    offer = getattr(model, "batch_successors", None)
    kernel = offer() if offer is not None and options.strategy == "bfs" else None
    if kernel is not None and (not options.reduce or hasattr(kernel, "canonical_rows")):
        return "compact"
    return "dict"
