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

A test is kept in a normal form, ``u<page> <op> <constant>``, so that the
answers can be cached on it without building or printing z3 terms; z3 sees
the terms only when the cache has no answer.

Unknown references hold no page alive: once the references the world tracks
are gone nothing can observe the page (no mapping, pipe or GUP reference
reaches it), so freeing it then changes no verdict.
"""

from __future__ import annotations

import operator
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import z3

Test = tuple[int, str, int]  # (page, comparison, constant): u<page> <comparison> <constant>
_COMPARE = {"==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le, ">": operator.gt,
            ">=": operator.ge}
_NEGATE = {"==": "!=", "!=": "==", "<": ">=", ">=": "<", ">": "<=", "<=": ">"}


def unknown(page: int) -> Any:
    return z3.Int(f"u{page}")


def term(test: Test) -> Any:
    page, comparison, constant = test
    return _COMPARE[comparison](unknown(page), constant)


def negate(test: Test) -> Test:
    page, comparison, constant = test
    return page, _NEGATE[comparison], constant


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
    _answers: dict[frozenset[Test], bool] = field(default_factory=dict)
    _witnesses: dict[frozenset[Test], dict[int, int]] = field(default_factory=dict)
    _solver: Any = None

    def feasible(self, tests: tuple[Test, ...]) -> bool:
        key = frozenset(tests)
        known = self._answers.get(key)
        if known is not None:
            self.stats.cache_hits += 1
            return known
        started = time.perf_counter()
        solver = self._solver = self._solver or z3.Solver()
        solver.push()
        solver.add(*self.constraints(key))
        answer = solver.check() == z3.sat
        solver.pop()
        self.stats.calls += 1
        self.stats.seconds += time.perf_counter() - started
        self._answers[key] = answer
        return answer

    def witness(self, tests: tuple[Test, ...]) -> dict[int, int]:
        """Per page, the smallest number of unknown references that makes ``tests`` hold."""
        key = frozenset(tests)
        known = self._witnesses.get(key)
        if known is None:
            started = time.perf_counter()
            known = self._witnesses[key] = self._smallest(key)
            self.stats.calls += 1
            self.stats.seconds += time.perf_counter() - started
        else:
            self.stats.cache_hits += 1
        return dict(known)

    def _smallest(self, tests: frozenset[Test]) -> dict[int, int]:
        optimizer = z3.Optimize()
        optimizer.add(*self.constraints(tests))
        pages = sorted({page for page, _, _ in tests})
        for page in pages:
            optimizer.minimize(unknown(page))
        if optimizer.check() != z3.sat:
            raise ValueError("no number of unknown references satisfies the step's tests")
        model = optimizer.model()
        return {page: model.eval(unknown(page), model_completion=True).as_long() for page in pages}

    def constraints(self, tests: Any) -> list[Any]:
        """The tests as z3 terms, with each unknown's domain (at least 0, at most ``bound``)."""
        found = [term(t) for t in tests]
        for page in {page for page, _, _ in tests}:
            found.append(unknown(page) >= 0)
            if self.bound is not None:
                found.append(unknown(page) <= self.bound)
        return found


class Decisions:
    """The outcomes of one run of a step: taken from ``prefix`` first, then the first feasible one,
    remembering each test whose other outcome was feasible too (to be taken by a later run)."""

    def __init__(self, feasibility: Feasibility, prefix: tuple[bool, ...] = ()) -> None:
        self.feasibility = feasibility
        self.prefix = prefix
        self.taken: list[bool] = []
        self.tests: list[Test] = []  # the tests as decided (negated where the outcome was false)
        self.pending: list[tuple[bool, ...]] = []

    def decide(self, test: Test) -> bool:
        n = len(self.taken)
        if n < len(self.prefix):
            outcome = self.prefix[n]
        else:
            so_far = tuple(self.tests)
            can_hold = self.feasibility.feasible(so_far + (test,))
            can_fail = self.feasibility.feasible(so_far + (negate(test),))
            if not (can_hold or can_fail):
                raise RuntimeError("a step's earlier tests contradict each other")
            outcome = can_hold
            if can_hold and can_fail:
                self.pending.append(tuple(self.taken) + (False,))
        self.taken.append(outcome)
        self.tests.append(test if outcome else negate(test))
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

    __slots__ = ("test", "decisions")

    def __init__(self, test: Test, decisions: Decisions) -> None:
        self.test, self.decisions = test, decisions

    def __bool__(self) -> bool:
        return self.decisions.decide(self.test)

    def __invert__(self) -> "SymBool":
        return SymBool(negate(self.test), self.decisions)


class SymCount:
    """A page's unknown references plus ``offset`` (the known ones), as a policy sees a refcount."""

    __slots__ = ("page", "offset", "decisions")

    def __init__(self, page: int, offset: int, decisions: Decisions) -> None:
        self.page, self.offset, self.decisions = page, offset, decisions

    @classmethod
    def of(cls, known: int, page: int, decisions: Decisions) -> "SymCount":
        return cls(page, known, decisions)

    def __add__(self, other: int) -> "SymCount":
        return SymCount(self.page, self.offset + operator.index(other), self.decisions)

    __radd__ = __add__

    def __sub__(self, other: int) -> "SymCount":
        return SymCount(self.page, self.offset - operator.index(other), self.decisions)

    def _test(self, comparison: str, other: int) -> SymBool:
        return SymBool((self.page, comparison, operator.index(other) - self.offset), self.decisions)

    def __eq__(self, other: object) -> SymBool:  # type: ignore[override]
        return self._test("==", other)  # type: ignore[arg-type]

    def __ne__(self, other: object) -> SymBool:  # type: ignore[override]
        return self._test("!=", other)  # type: ignore[arg-type]

    def __lt__(self, other: int) -> SymBool:
        return self._test("<", other)

    def __le__(self, other: int) -> SymBool:
        return self._test("<=", other)

    def __gt__(self, other: int) -> SymBool:
        return self._test(">", other)

    def __ge__(self, other: int) -> SymBool:
        return self._test(">=", other)

    __hash__ = None  # type: ignore[assignment]
