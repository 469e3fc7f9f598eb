"""z3's solvers with two answers: sat or unsat; ``unknown`` is an exception.

z3 answers ``unknown`` when it hits a resource limit or is interrupted. A test
written ``check() == sat`` reads that as unsat, and ``check() != sat`` as sat:
either way a question nobody answered becomes a verdict. Every solver of the
project goes through these wrappers instead.
"""

from __future__ import annotations

from typing import Any

import z3

from modelcheck.engine.symbolic import SolverGaveUp


def _answered(answer: Any, why: str, limited: bool) -> Any:
    """``answer`` unless it is unknown. z3 cancels a question on Ctrl-C and, in its default solver,
    on a resource limit too, with the same word; so without a limit of ours a cancellation is the
    user's Ctrl-C, and with one it is taken for the limit (the run ends incomplete either way)."""
    if answer == z3.unknown:
        if not limited and ("interrupt" in why or "cancel" in why):
            raise KeyboardInterrupt
        raise SolverGaveUp(why)
    return answer


class Solver:
    """An incremental z3 solver (for ``logic``, or z3's default) whose ``check`` is sat or unsat.

    ``resource_limit`` bounds z3's work per question (z3's ``rlimit``): past it
    the question raises ``SolverGaveUp``.
    """

    def __init__(self, logic: str | None = None, resource_limit: int | None = None) -> None:
        self._z3 = z3.SolverFor(logic) if logic else z3.Solver()
        self._limited = resource_limit is not None
        if resource_limit is not None:
            self._z3.set("rlimit", resource_limit)

    def check(self, *assumptions: Any) -> Any:
        answer = self._z3.check(*assumptions)
        return _answered(answer, self._z3.reason_unknown() if answer == z3.unknown else "", self._limited)

    def satisfiable(self, *assumptions: Any) -> bool:
        return self.check(*assumptions) == z3.sat

    def add(self, *constraints: Any) -> None:
        self._z3.add(*constraints)

    def push(self) -> None:
        self._z3.push()

    def pop(self) -> None:
        self._z3.pop()

    def model(self) -> Any:
        return self._z3.model()


class Optimizer:
    """z3's optimizer with the same two answers."""

    def __init__(self, resource_limit: int | None = None) -> None:
        self._z3 = z3.Optimize()
        self._limited = resource_limit is not None
        if resource_limit is not None:
            self._z3.set("rlimit", resource_limit)

    def add(self, *constraints: Any) -> None:
        self._z3.add(*constraints)

    def minimize(self, term: Any) -> Any:
        return self._z3.minimize(term)

    def maximize(self, term: Any) -> Any:
        return self._z3.maximize(term)

    def satisfiable(self) -> bool:
        answer = self._z3.check()
        return _answered(answer, self._z3.reason_unknown() if answer == z3.unknown else "", self._limited) == z3.sat

    def model(self) -> Any:
        return self._z3.model()
