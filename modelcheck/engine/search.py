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
from dataclasses import dataclass
from typing import Any

from modelcheck.engine.model import Invariant, Model, TransitionCheck, TransitionCount, coverage_of
from modelcheck.engine.progress import Progress
from modelcheck.engine.result import Result, Stats, Step, Trace, Verdict, Violation

STRATEGIES = ("bfs", "dfs")
_CHECK_EVERY = 1024  # expansions between looks at the clock


@dataclass(frozen=True)
class SearchOptions:
    strategy: str = "bfs"
    stop_at_first: bool = True
    max_states: int | None = None
    time_limit: float | None = None
    reduce: bool = False  # apply the reductions the model offers (its ``canonical`` state, for symmetry)

    def __post_init__(self) -> None:
        if self.strategy not in STRATEGIES:
            raise ValueError(f"unknown search strategy {self.strategy!r} (known: {', '.join(STRATEGIES)})")
        if self.max_states is not None and self.max_states < 1:
            raise ValueError(f"max_states must be at least 1, not {self.max_states}")
        if self.time_limit is not None and self.time_limit <= 0:
            raise ValueError(f"time_limit must be positive, not {self.time_limit}")


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
        properties = list(model.properties())
        self.invariants = [p for p in properties if isinstance(p, Invariant)]
        self.transition_checks: list[TransitionCheck] = [p for p in properties if isinstance(p, TransitionCheck)]
        # a counted property rides on the same per-action cache as a check that always holds
        self.counters = {p.name: 0 for p in properties if isinstance(p, TransitionCount)}
        self.transition_checks += [self._counting(p) for p in properties if isinstance(p, TransitionCount)]
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

    def _counting(self, prop: TransitionCount) -> TransitionCheck:
        counters = self.counters

        def holds(before: Any, action: Any, after: Any) -> bool:
            if prop.matches(before, action, after):
                counters[prop.name] += 1
            return True

        return TransitionCheck(prop.name, holds, lambda *_: "", prop.watches)

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
        initial = self.states[ids[0]]
        if self.canonical is not None:
            initial, hops = self.real_execution(name, initial, hops, action is not None)
            explanation = self.explain_again(name, initial, hops, action is not None)
        return build_trace(self.model, name, explanation, initial, hops)

    def explain_again(self, name: str, initial: Any, hops: list, ends_in_transition: bool) -> str:
        """The violation in the words of the real execution (the search saw a representative)."""
        if ends_in_transition:
            before, action, after = hops[-1]
            return next(c for c in self.transition_checks if c.name == name).explain(before, action, after)
        final = hops[-1][2] if hops else initial
        return next(i for i in self.invariants if i.name == name).explain(final)

    def real_execution(self, name: str, start: Any, hops: list, ends_in_transition: bool) -> tuple[Any, list]:
        """Turn a path through representatives into an execution of the model itself.

        Renaming commutes with the transitions, so from the real state there is
        always a successor whose representative is the next one on the path
        (and, for the last hop of a transition violation, one that violates the
        same check); take it, preferring the same label.
        """
        model, canonical = self.model, self.canonical
        checks = {c.name: c for c in self.transition_checks}
        state = next(s for s in model.initial_states() if canonical(s) == start)
        initial, real = state, []
        for n, (_, action, after) in enumerate(hops):
            target = canonical(after)
            label = model.action_label(action)
            last_transition = ends_in_transition and n == len(hops) - 1
            options = [(a, t) for a, t in model.successors(state) if canonical(t) == target
                       and (not last_transition or not checks[name].holds(state, a, t))]
            if not options:
                raise RuntimeError(f"the model's canonical form is not a symmetry: at step {n + 1} ({label}) "
                                   f"no successor of the real state has the representative the search reached")
            a, t = next(((a, t) for a, t in options if model.action_label(a) == label), options[0])
            real.append((state, a, t))
            state = t
        return initial, real

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
                if canonical is not None:
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
                if canonical is not None:
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
        except KeyboardInterrupt:
            reason, interrupted = "interrupted by the user", True
        finally:
            self.progress.close()
        seconds = time.perf_counter() - self.started
        stats = Stats(states=len(self.states), transitions=self.transitions, depth=self.depth,
                      seconds=seconds, max_frontier=self.max_frontier)
        violations = tuple(Violation(name, count, trace) for name, (count, trace) in self.found.items())
        covered, not_covered = coverage_of(self.model, self._checks_for.keys())
        if violations:
            verdict = Verdict.VIOLATED
        elif reason is not None:
            verdict = Verdict.INCOMPLETE
        else:
            verdict = Verdict.HOLDS
        return Result(verdict=verdict, stats=stats, violations=violations, incomplete_reason=reason,
                      strategy=self.options.strategy, interrupted=interrupted, counts=dict(self.counters),
                      covered=covered, not_covered=not_covered,
                      reductions=("symmetry",) if self.canonical is not None else ())


def build_trace(model: Model, name: str, explanation: str, initial: Any,
                hops: list[tuple[Any, Any, Any]]) -> Trace:
    """Render a path (a list of (before, action, after)) into a self-contained trace."""
    steps = tuple(
        Step(index=n, actor=model.action_actor(action), label=model.action_label(action),
             changes=tuple(model.describe_transition(before, action, after)),
             state=model.state_to_json(after))
        for n, (before, action, after) in enumerate(hops, start=1))
    return Trace(property=name, explanation=explanation, initial_state=model.state_to_json(initial),
                 steps=steps)


def check(model: Model, options: SearchOptions | None = None, progress: Progress | None = None,
          title: str = "exploring") -> Result:
    """Search ``model`` and return its verdict, statistics and counterexamples."""
    progress = progress or Progress()
    progress.start(title)
    return _Explorer(model, options or SearchOptions(), progress).run()
