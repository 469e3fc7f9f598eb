"""Dynamic partial-order reduction, for models whose every execution is finite.

Source-DPOR with sleep sets (Abdulla, Aronis, Jonsson and Sagonas, "Optimal
dynamic partial order reduction", POPL 2014, Algorithm 1). The search runs
executions depth-first without a state store. Two steps that touch disjoint
locations (neither writes what the other reads or writes) commute, so of the
executions that differ only by swapping such neighbours one is enough. When a
step conflicts with an earlier one of another key and nothing orders the two,
the pair is a race: the search comes back to the state before the earlier
step and tries, from there, a step that starts the reversed order.

What a model offers for it (the ``Footprinted`` capability):

* ``step_key(action)``: which step this is across states (a thread of a
  script, one kind of background event on one object). A key has at most one
  enabled action per state; the actions of one key are ordered with each other.
* ``step_keys()``: every key the model has.
* ``footprint(state, key)``: ``(reads, writes)``, the locations the key's step
  reads and writes from ``state``, including what the model's properties read
  to judge the transition and the state after it; for a key that is not
  enabled, what its test of enabledness read. That is what makes the search
  exact for the properties: each step of an explored execution reads the same
  values as in every execution that differs by swaps, so every verdict on a
  transition or on the state after it is seen.

A step can disable another for good (one that takes a resource another waits for), so the
disabled steps also take part in race detection: at each state, a key that is
not enabled is treated as a step that would read what its enabledness test
read, and its races with the execution's steps are reversed like any other
(the treatment of blocked steps in Flanagan and Godefroid's DPOR, POPL 2005).

States are cached: a state explored before with no more keys asleep is not
explored again; instead the steps once taken below it (its summary) are raced
against the current execution (stateful DPOR after Yang, Chen, Gopalakrishnan
and Kirby, SPIN 2008). Where the steps between the end of the execution and a
summarised step are unknown, every enabled key is tried.

Executions must be finite: a step that returns to a state of the current
execution ends the attempt (``Declined``) and the driver searches breadth-first
instead. Each distinct state and transition is judged once.
"""

from __future__ import annotations

import sys
from typing import Any, Hashable, NamedTuple

from modelcheck.engine.errors import Declined, StopReason, Stopped
from modelcheck.engine.model import Footprinted, Model
from modelcheck.engine.options import SearchOptions
from modelcheck.engine.pipeline import Pipeline
from modelcheck.engine.run import Run
from modelcheck.engine.strategies import STRATEGIES, Strategy, depth_refused
from modelcheck.engine.traces import build_trace

_CHECK_EVERY = 256  # steps between looks at the clock


class Event(NamedTuple):
    """A step of the current execution: who, what, from where to where, and what it touched."""

    key: Hashable
    action: Any
    before: Any
    after: Any
    reads: frozenset
    writes: frozenset


def dependent(a: Event, b: Event) -> bool:
    """Steps of one key are ordered; others conflict when one writes what the other reads or writes."""
    return a.key == b.key or not a.writes.isdisjoint(b.reads) or not a.writes.isdisjoint(b.writes) \
        or not b.writes.isdisjoint(a.reads)


@STRATEGIES.register
class Dpor(Strategy):
    """Source-DPOR with sleep sets over models that declare their steps' footprints."""

    name = "dpor"
    summary = "depth-first with dynamic partial-order reduction"
    falls_back_to = "bfs"
    found_by = "DPOR"
    counterexample_words = "counterexample (depth-first, DPOR)"
    flag_help = ("depth-first with dynamic partial-order reduction (scripted scenarios: one execution per order "
                 "of their conflicting steps); falls back to --bfs, and says so, where executions can repeat a state")

    @classmethod
    def options_error(cls, options: SearchOptions) -> str | None:
        if options.workers > 1 or options.store is not None or options.reduce:
            return ("DPOR runs in one process without a state store and is a reduction of its own: "
                    "it does not combine with --store, --workers or --reduce")
        if options.depth is not None:
            return depth_refused()
        return None

    @classmethod
    def accepts(cls, model: Model, options: SearchOptions) -> str | None:
        if not isinstance(model, Footprinted):
            return ("DPOR needs a model that declares its steps' footprints, and this one declares none for this "
                    "world (one step with several outcomes, say)")
        return None

    def run(self, model: Model, run: Run) -> None:
        assert isinstance(model, Footprinted)
        _Dpor(model, run).search()


class _Dpor:
    """One run: the current execution, its happens-before relation, backtrack and sleep sets."""

    def __init__(self, model: Footprinted, run: Run) -> None:
        self.model = model
        self.run = run
        self.pipeline = Pipeline(run)
        run.reductions = ("dpor",)
        run.figures["executions"] = 0
        self.key_of = model.step_key
        self.keys = tuple(model.step_keys())
        self._footprints: dict[tuple[Any, Hashable], tuple[frozenset, frozenset]] = {}
        self.seen: set[Any] = set()          # distinct states reached (each judged once)
        self.judged: set[tuple[Any, Any]] = set()  # distinct transitions taken (each judged once)
        self.steps: list[Event] = []          # the current execution
        self.happens_before: list[set[int]] = []  # per step: the earlier steps ordered before it
        self.backtrack: list[set[Hashable]] = []  # per state of the execution: keys still to try there
        self.enabled_at: list[dict[Hashable, tuple[Any, Any]]] = []
        self.on_path: set[Any] = set()
        self.explored: dict[Any, tuple[frozenset, frozenset]] = {}  # state -> (keys asleep, summary)
        self.revisits = 0
        self.root: Any = None
        self.executions = self.blocked = 0

    # -- the model's steps ------------------------------------------------------------
    def enabled(self, state: Any) -> dict[Hashable, tuple[Any, Any]]:
        out: dict[Hashable, tuple[Any, Any]] = {}
        for action, after in self.model.successors(state):
            key = self.key_of(action)
            if key in out:
                raise ValueError(f"step_key {key!r} has two enabled actions in one state: "
                                 f"{self.model.action_label(out[key][0])} and {self.model.action_label(action)}")
            out[key] = (action, after)
        return out

    def footprint(self, state: Any, key: Hashable) -> tuple[frozenset, frozenset]:
        memo = self._footprints.get((state, key))
        if memo is None:
            reads, writes = self.model.footprint(state, key)
            memo = self._footprints[state, key] = (frozenset(reads), frozenset(writes))
        return memo

    def step(self, key: Hashable, before: Any, action: Any, after: Any) -> Event:
        return Event(key, action, before, after, *self.footprint(before, key))

    # -- properties ------------------------------------------------------------------------
    def reach(self, state: Any) -> None:
        if state in self.seen:
            return
        if len(self.seen) == self.run.options.max_states:
            raise Stopped(StopReason.STATE_LIMIT)
        self.seen.add(state)
        self.run.states += 1
        for inv in self.pipeline.broken_invariants(state):
            self.violation(inv.name, inv.explain(state))

    def judge(self, step: Event) -> None:
        if (step.before, step.action) in self.judged:
            return
        self.judged.add((step.before, step.action))
        for check in self.pipeline.watching(step.action):
            if not check.holds(step.before, step.action, step.after):
                self.violation(check.name, check.explain(step.before, step.action, step.after))

    def violation(self, name: str, explanation: str) -> None:
        """A property failed on the current execution's last transition or on the state it reached."""
        trace = None
        if self.run.wants_trace(name):
            hops = [(s.before, s.action, s.after) for s in self.steps]
            initial = hops[0][0] if hops else self.root
            trace = build_trace(self.model, name, explanation, initial, hops)
        self.run.found(name, trace)

    # -- the search ----------------------------------------------------------------------------
    def push(self, step: Event) -> None:
        """Append ``step`` to the execution, planning the reversal of each race it closes."""
        self.happens_before.append(self.races(step))
        self.steps.append(step)

    def races(self, step: Event, summarised: bool = False) -> set[int]:
        """For each race between the execution's steps and ``step`` (taken next, a disabled step that
        would read what it read, or, ``summarised``, a step taken somewhere below a state already
        explored), plan the reversed order; return the steps ordered before it."""
        n = len(self.steps)
        deps = [j for j in range(n) if dependent(self.steps[j], step)]
        before: set[int] = set()
        for j in deps:
            before.add(j)
            before |= self.happens_before[j]
        for j in deps:
            if self.steps[j].key != step.key and not any(j in self.happens_before[k] for k in deps if k != j):
                self.reverse(j, n, before, step, summarised)
        return before

    def reverse(self, j: int, n: int, before_new: set[int], new: Event, summarised: bool) -> None:
        """Race between step j and ``new``: from the state before j, some step must start
        ``notdep(j).new`` (the steps after j that do not depend on it, then the new one).

        For a summarised step the steps between the end of the execution and it are not known, so
        only the execution's own steps are trusted as starts; without one, every enabled key is tried.
        """
        later = [k for k in range(j + 1, n) if j not in self.happens_before[k]]
        starts: list[Hashable] = []
        candidates = [(k, self.happens_before[k]) for k in later] + ([] if summarised else [(n, before_new)])
        for x, hb in candidates:
            if not any(y in hb for y in later if y < x):
                starts.append(self.steps[x].key if x < n else new.key)
        backtrack, enabled = self.backtrack[j], self.enabled_at[j]
        if any(key in backtrack for key in starts):
            return
        ready = [key for key in starts if key in enabled]
        if ready and len(ready) == len(starts):
            backtrack.add(ready[0])
        else:  # no start known, or one not enabled there: try them all
            backtrack.update(enabled)

    def explore(self, state: Any, sleep: dict[Hashable, Event]) -> frozenset:
        """Explore from ``state`` (reached by the current execution) and return its summary: every step
        taken, and every disabled step's test, in the part of the graph explored from it."""
        known = self.explored.get(state)
        if known is not None and known[0] <= sleep.keys():
            # explored before with no more steps asleep: only the races of what lies below with this
            # execution's steps are new
            self.revisits += 1
            for key, reads, writes in known[1]:
                self.races(Event(key, None, None, None, reads, writes), summarised=True)
            return known[1]
        n = len(self.steps)
        enabled = self.enabled(state)
        summary: set[tuple] = set()
        for key in self.keys:  # a step disabled here races with the steps that could have come after it
            if key not in enabled:
                reads, writes = self.footprint(state, key)
                self.races(Event(key, None, state, None, reads, writes))
                summary.add((key, reads, writes))
        awake = [key for key in enabled if key not in sleep]
        if not enabled:
            self.executions += 1
            self.run.figures["executions"] = self.executions
        elif not awake:
            self.blocked += 1
        else:
            self.backtrack.append({awake[0]})
            self.enabled_at.append(enabled)
            self.on_path.add(state)
            sleeping = dict(sleep)
            while True:
                key = next((k for k in enabled if k in self.backtrack[n] and k not in sleeping), None)
                if key is None:
                    break
                summary |= self.take(state, key, enabled, sleeping)
            self.backtrack.pop()
            self.enabled_at.pop()
            self.on_path.discard(state)
        asleep = frozenset(sleep) if known is None else known[0] & sleep.keys()
        result = frozenset(summary) if known is None else known[1] | summary
        self.explored[state] = (asleep, result)
        return result

    def take(self, state: Any, key: Hashable, enabled: dict, sleeping: dict[Hashable, Event]) -> set[tuple]:
        """Take ``key``'s step from ``state``, explore below it, and put it to sleep; its summary."""
        action, after = enabled[key]
        step = self.step(key, state, action, after)
        if after in self.on_path:
            raise Declined("DPOR needs finite executions, and an execution returned to one of its states "
                           f"(by {self.model.action_label(action)})")
        run = self.run
        run.transitions += 1
        self.push(step)
        self.judge(step)
        self.reach(after)
        if len(self.steps) > run.depth:
            run.depth = len(self.steps)
        if not run.transitions % _CHECK_EVERY:
            run.tick(len(self.steps))
        still = {}
        for other in sleeping:
            if other in enabled:
                asleep = self.step(other, state, *enabled[other])
                if not dependent(step, asleep):
                    still[other] = asleep
        below = self.explore(after, still)
        self.steps.pop()
        self.happens_before.pop()
        sleeping[key] = step
        return {(key, step.reads, step.writes)} | below

    def search(self) -> None:
        limit = sys.getrecursionlimit()
        try:
            sys.setrecursionlimit(max(limit, 20_000))
            for state in self.model.initial_states():
                self.root = state
                self.reach(state)
                self.explore(state, {})
        finally:
            sys.setrecursionlimit(limit)
