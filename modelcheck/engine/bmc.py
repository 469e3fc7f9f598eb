"""Bounded model checking: the model's transition relation unrolled for K steps in z3.

The second engine, to check the first. It does not enumerate states: each
state is a vector of bit-vector variables (one frame per step), the
transition relation is a disjunction of guarded updates, and z3 is asked for
a run from the initial state whose last step violates a property. Depth by
depth, so the first run found is a shortest one (the same length breadth-first
search reports). If no run of K+1 steps exists at all, every execution ends
within K steps and "no violation within K" is a full verdict: holds.

The guarded updates come from the model's own step code, run by symbolic
execution (``symexec``) once per step key on a state of free variables, bounded
by ``slot_bounds()``: each path through the code is a guard on the state and
the terms of the successor's slots, and the properties are judged on the same
path. The counterexample is then replayed on the model itself (``replay``), so
it has the same shape as the explicit engines' and a disagreement between the
two engines shows as a failed replay.

What a model offers for it: ``step_keys()`` and ``step(state, key)`` (the
enabled actions of one key with their successors, as ``successors`` lists
them), and ``slot_bounds()``: inclusive (least, most) per slot of every
reachable state.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import z3

from modelcheck.engine.model import Invariant, Model, TransitionCheck
from modelcheck.engine.replay import replay
from modelcheck.engine.result import Result, Stats, Verdict, Violation
from modelcheck.engine.search import EnginesDisagree
from modelcheck.engine.symexec import WIDTH, SymState, TooManyValues, every_path
from modelcheck.engine.traces import build_trace


def offers_bmc(model: Any) -> bool:
    return all(callable(getattr(model, name, None)) for name in ("step_keys", "step", "slot_bounds")) \
        and model.step_keys() is not None


@dataclass(frozen=True)
class Transition:
    """One path through one key's step code: a guard on the state before and the successor's slots."""

    action: Any
    guard: Any
    after: tuple[Any, ...]


@dataclass
class Relation:
    """A model's transition relation and properties over free variables ``before`` and ``after``."""

    before: list[Any]
    after: list[Any]
    table: list[Transition]
    bad_states: dict[str, Any]                 # invariant -> condition on ``before`` that violates it
    bad_steps: dict[tuple[str, Any], Any]      # (check, action) -> condition on ``before``, ``after``
    dropped: int                               # symbolic paths dropped (states no execution reaches)


def _solver(variables: list[Any], bounds: list[tuple[int, int]]) -> Any:
    solver = z3.Solver()
    for x, (least, most) in zip(variables, bounds):
        solver.add(x >= least, x <= most)
    return solver


def _fails(paths: list[tuple[Any, Any]]) -> Any:
    """The condition under which a judged property came out false."""
    bad = [z3.And(*path.constraints) if path.constraints else z3.BoolVal(True) for holds, path in paths if not holds]
    return z3.simplify(z3.Or(*bad)) if bad else z3.BoolVal(False)


class _OutOfTime(Exception):
    pass


def relation(model: Model, deadline: float | None = None) -> Relation:
    """Every path of every key's step from a state of free variables, and the properties' conditions."""

    def in_time(run):
        def timed(path):
            if deadline is not None and time.perf_counter() > deadline:
                raise _OutOfTime()
            return run(path)
        return timed

    bounds = model.slot_bounds()
    before = [z3.BitVec(f"x{i}", WIDTH) for i in range(len(bounds))]
    after = [z3.BitVec(f"y{i}", WIDTH) for i in range(len(bounds))]
    invariants, checks = _judged(model)
    solver = _solver(before, bounds)
    table: list[Transition] = []
    dropped = 0
    for key in model.step_keys():
        def step(path):
            return [(action, successor.terms()) for action, successor in model.step(SymState(list(before), path), key)]

        paths, lost = every_path(solver, in_time(step))
        dropped += lost
        for steps, path in paths:
            guard = z3.And(*path.constraints) if path.constraints else z3.BoolVal(True)
            table += [Transition(action, guard, tuple(terms)) for action, terms in steps]
    bad_states = {}
    for inv in invariants:
        paths, lost = every_path(solver, in_time(lambda path: inv.holds(SymState(list(before), path))))
        dropped += lost
        bad_states[inv.name] = _fails(paths)
    both = _solver(before + after, bounds + bounds)
    bad_steps = {}
    for action in dict.fromkeys(t.action for t in table):
        for check in checks:
            if check.watches(action):
                paths, lost = every_path(both, in_time(lambda path: check.holds(
                    SymState(list(before), path), action, SymState(list(after), path))))
                dropped += lost
                bad_steps[check.name, action] = _fails(paths)
    return Relation(before, after, table, bad_states, bad_steps, dropped)


def _judged(model: Model) -> tuple[list[Invariant], list[TransitionCheck]]:
    """The properties that can be violated (counted ones are not judged here)."""
    properties = list(model.properties())
    return ([p for p in properties if isinstance(p, Invariant)],
            [p for p in properties if isinstance(p, TransitionCheck)])


def run(model: Model, depth: int, stop_at_first: bool = True, time_limit: float | None = None) -> Result:
    """Look for the shortest violation of each property within ``depth`` steps."""
    started = time.perf_counter()
    deadline = started + time_limit if time_limit else None
    try:
        return _run(model, depth, stop_at_first, started, deadline)
    except (_OutOfTime, TooManyValues) as stop:
        reason = f"time limit of {time_limit:g} s reached" if isinstance(stop, _OutOfTime) else str(stop)
        return Result(verdict=Verdict.INCOMPLETE, stats=Stats(0, 0, 0, time.perf_counter() - started),
                      incomplete_reason=reason, strategy="bmc", store="none")


def _run(model: Model, depth: int, stop_at_first: bool, started: float, deadline: float | None) -> Result:
    initial = list(model.initial_states())
    if len(initial) != 1:
        raise ValueError("the bounded model checker needs exactly one initial state")
    init = initial[0]
    r = relation(model, deadline)
    table = r.table
    names = list(r.bad_states) + list(dict.fromkeys(name for name, _ in r.bad_steps))
    found: dict[str, Violation] = {}
    for inv in _judged(model)[0]:  # the initial state itself
        if not inv.holds(init):
            found[inv.name] = Violation(inv.name, 1, build_trace(model, inv.name, inv.explain(init), init, []))
    solver = z3.Solver()
    frames = [[z3.BitVecVal(v, WIDTH) for v in init]]
    choices: list[Any] = []
    complete = False
    reached = 0
    changed = [[n for n, t in enumerate(table) if not t.after[i].eq(x)] for i, x in enumerate(r.before)]

    def report(name: str, condition: Any) -> None:
        solver.push()
        solver.add(condition)
        if solver.check() == z3.sat:
            chosen = solver.model()
            labels = [model.action_label(table[chosen.eval(c).as_long()].action) for c in choices]
            outcome = replay(model, name, labels)
            if not outcome.ok:
                raise EnginesDisagree(f"{name}: {outcome.reason}")
            found[name] = Violation(name, 1, outcome.trace)
        solver.pop()

    for k in range(0 if found and stop_at_first else depth + 1):
        if deadline is not None and time.perf_counter() > deadline:
            raise _OutOfTime()
        frame = frames[k]
        pairs = list(zip(r.before, frame))
        choice = z3.Int(f"step{k}")
        guards = [z3.Implies(choice == n, z3.substitute(t.guard, *pairs)) for n, t in enumerate(table)]
        taken = z3.And(choice >= 0, choice < len(table), *guards) if table else z3.BoolVal(False)
        if k == depth:  # can one more step be taken at all? if not, every execution ends within ``depth``
            solver.push()
            solver.add(taken)
            complete = solver.check() == z3.unsat
            solver.pop()
            break
        following = [z3.BitVec(f"s{k + 1}_{i}", WIDTH) for i in range(len(r.before))]
        for i, x in enumerate(frame):
            value = x
            for n in changed[i]:
                value = z3.If(choice == n, z3.substitute(table[n].after[i], *pairs), value)
            solver.add(following[i] == value)
        solver.add(taken)
        if solver.check() == z3.unsat:  # no run of k+1 steps: nothing longer either
            complete = True
            break
        choices.append(choice)
        frames.append(following)
        reached = k + 1
        step_pairs = pairs + list(zip(r.after, following))
        for name in names:
            if name in found:
                continue
            bad = [z3.substitute(r.bad_states[name], *list(zip(r.before, following)))] if name in r.bad_states else []
            bad += [z3.And(choice == n, z3.substitute(r.bad_steps[name, t.action], *step_pairs))
                    for n, t in enumerate(table) if (name, t.action) in r.bad_steps]
            if bad:
                report(name, z3.Or(*bad))
        if found and stop_at_first:
            break
    seconds = time.perf_counter() - started
    violations = tuple(found[n] for n in names if n in found)
    reason = None if violations or complete else f"no violation within {depth} steps (depth bound)"
    stats = Stats(states=0, transitions=len(table), depth=reached, seconds=seconds)
    notes = (f"{r.dropped} symbolic path(s) dropped: their states lie outside every reachable one",) \
        if r.dropped else ()
    return Result(verdict=Verdict.of(bool(violations), reason), stats=stats, violations=violations,
                  incomplete_reason=reason, strategy="bmc", store="none", notes=notes)
