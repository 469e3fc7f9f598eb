"""Unknown counts: numbers nobody in the model controls, as z3 integers instead of enumerated values.

A model that counts things it cannot enumerate keeps reading a plain number
in its rules; during a symbolic step that number is a ``SymCount`` (a known
part plus a sum of unknowns ``>= 0``), and when a rule tests it (``== 1``,
``>= 1024``) the test asks z3 which outcomes are feasible together with the
step's earlier tests. The step is run again for each feasible combination
(``Decisions`` on the one driver of ``driver``), so one action of the
enumerated model becomes one successor per outcome.

A test is kept in a normal form, ``(unknowns, comparison, constant)`` meaning
``sum(unknowns) <comparison> constant``, so that answers can be cached on it
without building or printing z3 terms; z3 sees terms only on a cache miss.
Every decided test is a half-line or a point (an equality's failure is decided
as less or greater), so what a run has learnt of an unknown that lasts across
steps is an interval (``Feasibility.interval``), exact, and equal knowledge is
equal intervals.
"""

from __future__ import annotations

import operator
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import z3

from modelcheck.engine.symbolic.driver import Choices, every_run
from modelcheck.engine.symbolic.solver import Optimizer, Solver

Test = tuple[tuple[str, ...], str, int]  # (unknowns, comparison, constant): sum(unknowns) <comparison> constant
Domain = tuple[tuple[str, int, int | None], ...]  # (unknown, least, most or None) for the held unknowns
_COMPARE = {"==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le, ">": operator.gt,
            ">=": operator.ge}
_NEGATE = {"==": "!=", "!=": "==", "<": ">=", ">=": "<", ">": "<=", "<=": ">"}


def unknown(name: str) -> Any:
    return z3.Int(name)


def term(test: Test) -> Any:
    names, comparison, constant = test
    return _COMPARE[comparison](z3.Sum([unknown(n) for n in names]) if len(names) > 1 else unknown(names[0]),
                                constant)


def negate(test: Test) -> Test:
    names, comparison, constant = test
    return names, _NEGATE[comparison], constant


def outcomes(test: Test) -> list[tuple[Test, bool]]:
    """The convex outcomes of a test, each with the truth value the rule sees: an equality's failure is
    "less" or "greater", so every decided test is a half-line or a point."""
    names, comparison, constant = test
    if comparison in ("==", "!="):
        equal = comparison == "=="
        return [((names, "==", constant), equal), ((names, "<", constant), not equal),
                ((names, ">", constant), not equal)]
    return [(test, True), (negate(test), False)]


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

    bound: int | None = None  # at most this much for an unknown the domain does not bound (None: any number)
    resource_limit: int | None = None  # z3's work per question; past it a question raises SolverGaveUp
    stats: SolverStats = field(default_factory=SolverStats)
    _answers: dict[tuple, Any] = field(default_factory=dict)
    _solver: Any = None

    def _cached(self, key: tuple, compute: Callable[[], Any]) -> Any:
        known = self._answers.get(key)
        if known is not None:
            self.stats.cache_hits += 1
            return known
        started = time.perf_counter()
        known = self._answers[key] = compute()
        self.stats.calls += 1
        self.stats.seconds += time.perf_counter() - started
        return known

    def feasible(self, tests: tuple[Test, ...], domain: Domain = ()) -> bool:
        tests_key = frozenset(tests)

        def ask() -> bool:
            solver = self._solver = self._solver or Solver(resource_limit=self.resource_limit)
            solver.push()
            try:
                solver.add(*self.constraints(tests_key, domain))
                return solver.satisfiable()
            finally:
                solver.pop()

        return self._cached(("sat", tests_key, domain), ask)

    def witness(self, tests: tuple[Test, ...], domain: Domain = ()) -> dict[str, int]:
        """Per unknown the tests name, the smallest value that makes them hold (with the others')."""
        tests_key = frozenset(tests)

        def smallest() -> dict[str, int]:
            optimizer = Optimizer(self.resource_limit)
            optimizer.add(*self.constraints(tests_key, domain))
            names = sorted({n for names, _, _ in tests_key for n in names})
            for name in names:
                optimizer.minimize(unknown(name))
            if not optimizer.satisfiable():
                raise ValueError("no number of unknown references satisfies the step's tests")
            model = optimizer.model()
            return {n: model.eval(unknown(n), model_completion=True).as_long() for n in names}

        return dict(self._cached(("witness", tests_key, domain), smallest))

    def interval(self, name: str, tests: tuple[Test, ...], domain: Domain) -> tuple[int, int | None]:
        """The values ``name`` can still take under ``tests`` (None: no upper bound); exact, since the
        tests are half-lines and points and the other unknowns only shift them."""
        tests_key = frozenset(tests)

        def bounds() -> tuple[int, int | None]:
            found: list[int | None] = []
            for lowest in (True, False):
                optimizer = Optimizer(self.resource_limit)
                optimizer.add(*self.constraints(tests_key, domain))
                handle = optimizer.minimize(unknown(name)) if lowest else optimizer.maximize(unknown(name))
                if not optimizer.satisfiable():
                    raise ValueError("the step's tests contradict what the state knows")
                value = handle.value()
                found.append(value.as_long() if z3.is_int_value(value) else None)
            least, most = found
            assert least is not None  # an unknown is at least 0
            return least, most

        return self._cached(("interval", name, tests_key, domain), bounds)

    def constraints(self, tests: Any, domain: Domain = ()) -> list[Any]:
        """The tests as z3 terms, with each unknown's domain: at least 0, for a transient one at most
        ``bound``, for a held one what the state knows."""
        found = [term(t) for t in tests]
        held = {name: (least, most) for name, least, most in domain}
        for name in {n for names, _, _ in tests for n in names} | set(held):
            least, most = held.get(name, (0, self.bound))
            found.append(unknown(name) >= least)
            if most is not None:
                found.append(unknown(name) <= most)
        return found


class Decisions(Choices):
    """The outcomes of one run of a step: taken from ``prefix`` first, then the first feasible one,
    remembering each other feasible outcome (to be taken by a later run)."""

    def __init__(self, feasibility: Feasibility, prefix: tuple[Any, ...] = (), domain: Domain = ()) -> None:
        super().__init__(prefix)
        self.feasibility = feasibility
        self.domain = domain
        self.tests: list[Test] = []  # the tests as decided, each a half-line or a point

    def decide(self, test: Test) -> bool:
        choices = outcomes(test)
        so_far = tuple(self.tests)
        choice = self.take(lambda: [i for i, (t, _) in enumerate(choices)
                                    if self.feasibility.feasible(so_far + (t,), self.domain)])
        decided, truth = choices[int(choice)]  # type: ignore[call-overload]
        self.tests.append(decided)
        return truth


def every_outcome(feasibility: Feasibility, run: Callable[[Decisions], Any],
                  domain: Domain = ()) -> list[tuple[Any, Decisions]]:
    """Run a step once per feasible combination of its tests' outcomes."""
    return every_run(lambda prefix: Decisions(feasibility, prefix, domain), run)


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
    """Unknowns (``names``) plus ``offset`` (the known part), as a rule sees a count."""

    __slots__ = ("names", "offset", "decisions")

    def __init__(self, names: tuple[str, ...], offset: int, decisions: Decisions) -> None:
        self.names, self.offset, self.decisions = names, offset, decisions

    def __add__(self, other: int) -> "SymCount":
        return SymCount(self.names, self.offset + operator.index(other), self.decisions)

    __radd__ = __add__

    def __sub__(self, other: int) -> "SymCount":
        return SymCount(self.names, self.offset - operator.index(other), self.decisions)

    def _test(self, comparison: str, other: int) -> SymBool:
        return SymBool((self.names, comparison, operator.index(other) - self.offset), self.decisions)

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
