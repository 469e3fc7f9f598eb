"""Shortest counterexamples from searches that do not find them first (``--minimize``).

Depth-first search, DPOR and random walks report the first violation they
meet, often by a long way round. A trace of n steps is shrunk in two passes,
each keeping only executions of the model that violate the same property:

1. delta debugging over its steps (Zeller and Hildebrandt, "Simplifying and
   isolating failure-inducing input", TSE 2002): drop chunks of steps, halving
   the chunks, while what is left still replays and still violates it (a
   prefix that already violates it is taken as it is);
2. a breadth-first search from the initial states bounded to one step fewer
   than what delta debugging left, which finds a shortest violation of the
   property, or shows there is none shorter. When it would store more states
   than its budget, it is tried again over the actions of the trace's actors
   only; past that budget too, the delta-debugged trace is kept.

The result is rebuilt by replaying its labels on the model (``replay``), so
a minimized trace is an execution of the model whatever the run reduced.
Strategies whose first counterexample is already a shortest one say so
(``Strategy.shortest``) and are left alone.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Any, Collection, Sequence

from modelcheck.engine.errors import StopReason, Stopped
from modelcheck.engine.model import Invariant, Model, TransitionCheck, split_properties
from modelcheck.engine.options import SearchOptions
from modelcheck.engine.pipeline import Pipeline
from modelcheck.engine.progress import Progress
from modelcheck.engine.replay import replay
from modelcheck.engine.result import Minimization, Trace
from modelcheck.engine.run import Run
from modelcheck.engine.stores import DictStore
from modelcheck.engine.traces import counterexample

SEARCH_BUDGET = 250_000  # states the bounded breadth-first search may store (--max-states lowers it)
MOST_REPLAYS = 4_000     # candidate traces delta debugging may replay


@dataclass(frozen=True)
class Shrunk:
    """What minimizing one trace gave: the trace (the original when nothing shorter was found) and how."""

    trace: Trace
    note: str


class _Judge:
    """Replays step labels on the model and says where the property is first violated."""

    def __init__(self, model: Model, property_name: str) -> None:
        self.model = model
        invariants, checks, _ = split_properties(model)
        self.invariant: Invariant | None = next((i for i in invariants if i.name == property_name), None)
        self.check: TransitionCheck | None = next((c for c in checks if c.name == property_name), None)
        self.replays = 0

    def first_violation(self, initial: Any, labels: Sequence[str]) -> int | None:
        """The number of steps after which ``labels`` from ``initial`` first violate the property, or None
        when they do not (or a label is not enabled where it comes)."""
        self.replays += 1
        model, state = self.model, initial
        for n, label in enumerate(labels, start=1):
            step = next(((a, after) for a, after in model.successors(state) if model.action_label(a) == label), None)
            if step is None:
                return None
            action, after = step
            if self.check is not None and self.check.watches(action) and not self.check.holds(state, action, after):
                return n
            if self.invariant is not None and not self.invariant.holds(after):
                return n
            state = after
        return None


def delta_debug(judge: _Judge, initial: Any, labels: list[str], deadline: float | None) -> list[str]:
    """A subsequence of ``labels`` that still violates the property, from which no chunk of the last
    granularity can be dropped (1-minimal when the replay budget and the clock allow)."""
    chunks = 2
    while len(labels) >= 2 and judge.replays < MOST_REPLAYS:
        if deadline is not None and time.perf_counter() >= deadline:
            break
        size = -(-len(labels) // chunks)  # ceiling
        for start in range(0, len(labels), size):
            candidate = labels[:start] + labels[start + size:]
            ends = judge.first_violation(initial, candidate)
            if ends is not None:
                labels = candidate[:ends]
                chunks = max(chunks - 1, 2)
                break
        else:
            if size == 1:
                break
            chunks = min(len(labels), chunks * 2)
    return labels


def bounded_search(model: Model, options: SearchOptions, started: float | None, property_name: str,
                   fewer_than: int, actors: Collection[str] | None) -> tuple[Trace | None, bool, int]:
    """A shortest violation of ``property_name`` of fewer than ``fewer_than`` steps, by breadth-first search
    over the model (over ``actors``' actions only, if given): (its trace or None, whether the search
    finished within its budget and the run's clock, the states it stored)."""
    budget = min(SEARCH_BUDGET, options.max_states) if options.max_states else SEARCH_BUDGET
    own = replace(options, strategy="bfs", store=None, workers=1, depth=None, settings=(), minimize=False,
                  checkpoint=None, resume=None, dask_workers=None, scheduler=None, stop_at_first=True,
                  max_states=budget)
    run = Run(model, own, Progress(), "bfs", started=started)
    pipeline, store = Pipeline(run), DictStore()
    invariants = [i for i in run.invariants if i.name == property_name]

    def found(sid: int, action: Any, after: Any, explanation: str) -> Trace:
        initial, hops = store.path(sid)
        if action is not None:
            hops.append((store.states[sid], action, after))
        return counterexample(model, pipeline.canonical, run.invariants, run.checks, property_name, explanation,
                              initial, hops, action is not None)

    try:
        for _, key in pipeline.initial_keys():
            if key not in store:
                store.add(key, -1, None)
        level, depth = list(range(len(store))), 0
        while level and depth + 1 < fewer_than:
            following: list[int] = []
            for sid in level:
                state = store.states[sid]
                for action, after, key, broken in pipeline.transitions(state):
                    if actors is not None and model.action_actor(action) not in actors:
                        continue
                    for check in broken:
                        if check.name == property_name:
                            return found(sid, action, after, check.explain(state, action, after)), True, len(store)
                    if key in store.index:
                        continue
                    if len(store) >= budget:
                        raise Stopped(StopReason.STATE_LIMIT)
                    new = store.add(key, sid, action)
                    for inv in invariants:
                        if not inv.holds(key):
                            return found(new, None, None, inv.explain(key)), True, len(store)
                    following.append(new)
                if not sid % 256:
                    run.check_limits(len(store))
            level, depth = following, depth + 1
    except (Stopped, MemoryError):
        return None, False, len(store)
    return None, True, len(store)


def minimize_trace(model: Model, trace: Trace, options: SearchOptions, started: float | None = None) -> Shrunk:
    """``trace`` shrunk to a shortest one (see the module's docstring), with a note saying what was done."""
    original = len(trace)
    name = trace.property
    if trace.parameters:  # the run chose values the model must be fixed to first (bmc: shortest already)
        return Shrunk(trace, f"the counterexample of {name} was not minimized: it fixes parameters")
    judge = _Judge(model, name)
    initial = next((s for s in model.initial_states() if model.state_to_json(s) == trace.initial_state), None)
    if initial is None or original < 2 or (judge.invariant is None and judge.check is None):
        return Shrunk(trace, f"the counterexample of {name} of {original} step(s) is as short as it gets") \
            if original < 2 else Shrunk(trace, f"the counterexample of {name} was not minimized")
    deadline = started + options.time_limit if started is not None and options.time_limit else None
    labels = delta_debug(judge, initial, trace.labels(), deadline)
    shortest, shorter, states = False, None, 0
    among: tuple[str, ...] = ()
    actor_of = {step.label: step.actor for step in trace.steps}
    for actors in ((), tuple(sorted({actor_of[label] for label in labels}))):
        shorter, shortest, states = bounded_search(model, options, started, name, len(labels), actors or None)
        among = actors
        if shortest or shorter is not None:
            break
    start = trace.initial_state
    if shorter is not None:
        labels, start = shorter.labels(), shorter.initial_state
    outcome = replay(model, name, labels, initial_state=start)
    if not outcome.ok or outcome.trace is None or len(outcome.trace) > original:
        return Shrunk(trace, f"the counterexample of {name} of {original} steps was not minimized: the shorter "
                             f"one does not replay ({outcome.reason})")
    within = f" over the actions of {', '.join(among)} only" if among else ""
    proof = (f"none shorter within {len(outcome.trace) - 1} steps{within}, {states:,} states searched" if shortest
             else f"a shorter one may exist: the bounded search stopped at {states:,} states")
    shrunk = replace(outcome.trace, minimized=Minimization(original=original, shortest=shortest and not among,
                                                           actors=among if shortest else ()))
    if len(shrunk) == original:
        return Shrunk(shrunk, f"the counterexample of {name} of {original} steps could not be shortened ({proof})")
    return Shrunk(shrunk, f"minimized the counterexample of {name} from {original} to {len(shrunk)} steps ({proof})")


def minimize_violations(run: Run) -> None:
    """Each violation's trace of ``run`` minimized in place, each with a note (``--minimize``)."""
    for name, violation in list(run.violations.items()):
        try:
            shrunk = minimize_trace(run.model, violation.trace, run.options, run.started)
        except KeyboardInterrupt:
            run.note("--minimize interrupted: the counterexamples as found")
            return
        run.violations[name] = replace(violation, trace=shrunk.trace)
        run.note(shrunk.note)
