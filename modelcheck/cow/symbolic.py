"""Symbolic unknown references: a page's refcount as a z3 term instead of an enumerated count.

The explicit world enumerates speculative references (``S``): its state space
grows with S and it can only ever say "for up to S of them". Here the
references nobody in the scenario controls are one unknown ``u >= 0`` per
page, fresh at every step: speculative and transient references come and go
between any two steps of the kernel, so a step may meet any number of them,
and within one step the number is fixed. A policy keeps reading
``page.refcount``; during a symbolic step that is a ``SymCount``, and when the
policy's rule tests it (``refcount == 1``, ``refcount >= 1024``) the test asks
z3 which outcomes are feasible together with the step's earlier tests. The
step is taken again for each feasible combination (``Decisions``), so one
action of the explicit world becomes one successor per outcome.

Unknown references hold no page alive: once the references the world tracks
are gone nothing can observe the page (no mapping, pipe or GUP reference
reaches it), so freeing it then changes no verdict.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable

import z3


@dataclass
class SolverStats:
    """What the feasibility questions cost a run."""

    calls: int = 0
    cache_hits: int = 0
    seconds: float = 0.0

    def as_dict(self) -> dict[str, float]:
        return {"solver calls": self.calls, "solver cache hits": self.cache_hits,
                "solver seconds": round(self.seconds, 3)}


@dataclass
class Feasibility:
    """Answers "can these tests all hold?" with z3, remembering every answer."""

    bound: int | None = None  # at most this many unknown references on a page (None: any number)
    stats: SolverStats = field(default_factory=SolverStats)
    _answers: dict[tuple[str, ...], bool] = field(default_factory=dict)
    _solver: Any = None

    def feasible(self, tests: tuple[Any, ...]) -> bool:
        key = tuple(sorted(t.sexpr() for t in tests))
        known = self._answers.get(key)
        if known is not None:
            self.stats.cache_hits += 1
            return known
        started = time.perf_counter()
        solver = self._solver = self._solver or z3.Solver()
        solver.push()
        solver.add(*tests, *self.domain(tests))
        answer = solver.check() == z3.sat
        solver.pop()
        self.stats.calls += 1
        self.stats.seconds += time.perf_counter() - started
        self._answers[key] = answer
        return answer

    def witness(self, tests: tuple[Any, ...]) -> dict[str, int]:
        """One assignment of the unknowns that makes ``tests`` hold (the smallest counts z3 finds)."""
        optimizer = z3.Optimize()
        optimizer.add(*tests, *self.domain(tests))
        names = sorted({str(v) for t in tests for v in _variables(t)})
        for name in names:
            optimizer.minimize(z3.Int(name))
        if optimizer.check() != z3.sat:
            raise ValueError("no assignment satisfies the step's tests")
        model = optimizer.model()
        return {name: model.eval(z3.Int(name), model_completion=True).as_long() for name in names}

    def domain(self, tests: tuple[Any, ...]) -> list[Any]:
        constraints = []
        for v in {str(v) for t in tests for v in _variables(t)}:
            var = z3.Int(v)
            constraints.append(var >= 0)
            if self.bound is not None:
                constraints.append(var <= self.bound)
        return constraints


def _variables(expr: Any) -> set[Any]:
    found, stack = set(), [expr]
    while stack:
        e = stack.pop()
        if z3.is_const(e) and e.decl().kind() == z3.Z3_OP_UNINTERPRETED:
            found.add(e)
        else:
            stack.extend(e.children())
    return found


class Decisions:
    """The outcomes of one run of a step: taken from ``prefix`` first, then the first feasible one,
    remembering each test whose other outcome was feasible too (to be taken by a later run)."""

    def __init__(self, feasibility: Feasibility, prefix: tuple[bool, ...] = ()) -> None:
        self.feasibility = feasibility
        self.prefix = prefix
        self.taken: list[bool] = []
        self.tests: list[Any] = []  # the z3 tests as decided (negated where the outcome was false)
        self.pending: list[tuple[bool, ...]] = []

    def decide(self, test: Any) -> bool:
        n = len(self.taken)
        if n < len(self.prefix):
            outcome = self.prefix[n]
        else:
            so_far = tuple(self.tests)
            can_hold = self.feasibility.feasible(so_far + (test,))
            can_fail = self.feasibility.feasible(so_far + (z3.Not(test),))
            if not (can_hold or can_fail):
                raise RuntimeError("a step's earlier tests contradict each other")
            outcome = can_hold
            if can_hold and can_fail:
                self.pending.append(tuple(self.taken) + (False,))
        self.taken.append(outcome)
        self.tests.append(test if outcome else z3.Not(test))
        return outcome


def every_outcome(feasibility: Feasibility, run: Callable[[Decisions], Any]) -> list[tuple[Any, Decisions]]:
    """Run a step once per feasible combination of its tests' outcomes."""
    results, todo = [], [()]
    while todo:
        decisions = Decisions(feasibility, todo.pop())
        results.append((run(decisions), decisions))
        todo.extend(decisions.pending)
    return results


class SymBool:
    """A test of a symbolic count: it becomes a Python bool only through a decision."""

    __slots__ = ("term", "decisions")

    def __init__(self, term: Any, decisions: Decisions) -> None:
        self.term, self.decisions = term, decisions

    def __bool__(self) -> bool:
        return self.decisions.decide(self.term)

    def __invert__(self) -> "SymBool":
        return SymBool(z3.Not(self.term), self.decisions)


class SymCount:
    """``known`` references plus the page's unknown ones, as a policy sees a refcount."""

    __slots__ = ("known", "term", "decisions")

    def __init__(self, known: int, term: Any, decisions: Decisions) -> None:
        self.known, self.term, self.decisions = known, term, decisions

    @classmethod
    def of(cls, known: int, page: int, decisions: Decisions) -> "SymCount":
        return cls(known, z3.Int(f"u{page}") + known, decisions)

    def _with(self, term: Any) -> "SymCount":
        return SymCount(self.known, term, self.decisions)

    def _test(self, term: Any) -> SymBool:
        return SymBool(term, self.decisions)

    def __add__(self, other: int) -> "SymCount":
        return self._with(self.term + other)

    __radd__ = __add__

    def __sub__(self, other: int) -> "SymCount":
        return self._with(self.term - other)

    def __eq__(self, other: object) -> SymBool:  # type: ignore[override]
        return self._test(self.term == other)

    def __ne__(self, other: object) -> SymBool:  # type: ignore[override]
        return self._test(self.term != other)

    def __lt__(self, other: int) -> SymBool:
        return self._test(self.term < other)

    def __le__(self, other: int) -> SymBool:
        return self._test(self.term <= other)

    def __gt__(self, other: int) -> SymBool:
        return self._test(self.term > other)

    def __ge__(self, other: int) -> SymBool:
        return self._test(self.term >= other)

    __hash__ = None  # type: ignore[assignment]
