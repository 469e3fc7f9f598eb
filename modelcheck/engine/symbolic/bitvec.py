"""Bit-vector frames: symbolic execution of a model's own step code, for the bounded model checker.

A state that is a flat tuple of small integers can be replaced by a
``SymState`` of z3 bit-vector terms; the model's successor code then runs on
it unchanged. Arithmetic and bitwise operations build terms; wherever the code
needs a Python value (an ``if``, a list index, a dictionary key, ``range``),
``Path`` asks z3 which values are feasible under the path's constraints and
the code is run once per feasible choice (``every_path``, on the one driver of
``driver``). Each run yields the
transitions of one path: a condition on the input state and, per successor,
the terms of its slots. ``list.count`` on a slice is a sum of indicators, so
counting does not split paths.

The code must be deterministic and read the state only through indexing,
slicing, iteration and ``len``.
"""

from __future__ import annotations

import operator
from typing import Any, Callable, Iterator

import z3

from modelcheck.engine.symbolic.driver import Choices, Infeasible, every_run

WIDTH = 32


def _term(value: Any) -> Any:
    if isinstance(value, SymInt):
        return value.term
    if z3.is_expr(value):
        return value
    if isinstance(value, bool):
        return z3.BitVecVal(int(value), WIDTH)
    return z3.BitVecVal(operator.index(value), WIDTH)


class StalePath(Exception):
    """A term was used after its path ended (kept in a memo across steps, say): a bug to fix, never a
    path to drop."""


class TooManyValues(Exception):
    """The step code needs a term as a Python value, and the term has too many feasible values."""


class Path(Choices):
    """The choices of one run through the step code: replayed from ``prefix``, then the first feasible
    one, remembering each other feasible choice for a later run."""

    VALUES_CAP = 4096  # a value the code needs concretely, with more feasible values than this, is an error

    def __init__(self, solver: Any, prefix: tuple[Any, ...] = (), known: list[tuple[Any, Any]] | None = None) -> None:
        super().__init__(prefix)
        self.solver = solver  # holds what every state satisfies; each constraint of the path is pushed on it
        self.known = known or []  # (variable, value) pairs the solver's assertions imply: decide without asking
        self.constraints: list[Any] = []  # every condition the path took, over the state's own terms
        self.pushes = 0
        self.closed = False

    def _constrain(self, condition: Any) -> None:
        self.constraints.append(condition)
        self.solver.push()
        self.pushes += 1
        self.solver.add(condition)

    def _given(self, term: Any) -> Any:
        """``term`` simplified with the known values put in."""
        return z3.simplify(z3.substitute(term, *self.known) if self.known else term)

    def end(self) -> None:
        """Take the path's constraints off the solver."""
        for _ in range(self.pushes):
            self.solver.pop()
        self.closed = True

    def _feasible(self, extra: Any) -> bool:
        return self.solver.check(extra) == z3.sat

    def truth(self, condition: Any) -> bool:
        if self.closed:
            raise StalePath("a symbolic value was used after its path ended")
        condition = z3.simplify(condition)
        if z3.is_true(condition):
            return True
        if z3.is_false(condition):
            return False
        given = self._given(condition)
        if z3.is_true(given) or z3.is_false(given):  # implied: recorded for the guard, no question asked
            self.constraints.append(condition if z3.is_true(given) else z3.Not(condition))
            return z3.is_true(given)
        # two questions: with the bit-blasting solver they cost less than one solution to evaluate
        choice = bool(self.take(lambda: [answer for answer in (True, False)
                                         if self._feasible(condition if answer else z3.Not(condition))]))
        self._constrain(condition if choice else z3.Not(condition))
        return choice

    def value(self, term: Any) -> int:
        """A concrete value of ``term``; a later run takes each other feasible one."""
        if self.closed:
            raise StalePath("a symbolic value was used after its path ended")
        term = z3.simplify(term)
        if z3.is_bv_value(term):
            return term.as_signed_long()
        given = self._given(term)
        if z3.is_bv_value(given):
            self.constraints.append(term == given)
            return given.as_signed_long()
        v = int(self.take(lambda: self._values(term)))  # type: ignore[call-overload]
        self._constrain(term == z3.BitVecVal(v, WIDTH))
        return v

    def _values(self, term: Any) -> list[int]:
        found: list[int] = []
        self.solver.push()
        while self.solver.check() == z3.sat:
            v = self.solver.model().eval(term, model_completion=True).as_signed_long()
            found.append(v)
            if len(found) > self.VALUES_CAP:
                self.solver.pop()
                raise TooManyValues(f"a value the step needs concretely has more than {self.VALUES_CAP} "
                                    "possibilities on the states the frame holds")
            self.solver.add(term != z3.BitVecVal(v, WIDTH))
        self.solver.pop()
        return sorted(found)


class SymBool:
    __slots__ = ("term", "path")

    def __init__(self, term: Any, path: Path) -> None:
        self.term, self.path = term, path

    def __bool__(self) -> bool:
        return self.path.truth(self.term)

    def __invert__(self) -> "SymBool":
        return SymBool(z3.Not(self.term), self.path)


class SymInt:
    """An integer slot value (or one computed from slots) as a z3 bit-vector term."""

    __slots__ = ("term", "path")

    def __init__(self, term: Any, path: Path) -> None:
        self.term, self.path = term, path

    def _new(self, term: Any) -> "SymInt":
        return SymInt(term, self.path)

    def __add__(self, o): return self._new(self.term + _term(o))  # noqa: E704
    def __radd__(self, o): return self._new(_term(o) + self.term)  # noqa: E704
    def __sub__(self, o): return self._new(self.term - _term(o))  # noqa: E704
    def __rsub__(self, o): return self._new(_term(o) - self.term)  # noqa: E704
    def __mul__(self, o): return self._new(self.term * _term(o))  # noqa: E704
    def __rmul__(self, o): return self._new(_term(o) * self.term)  # noqa: E704
    def __and__(self, o): return self._new(self.term & _term(o))  # noqa: E704
    def __rand__(self, o): return self._new(_term(o) & self.term)  # noqa: E704
    def __or__(self, o): return self._new(self.term | _term(o))  # noqa: E704
    def __ror__(self, o): return self._new(_term(o) | self.term)  # noqa: E704
    def __xor__(self, o): return self._new(self.term ^ _term(o))  # noqa: E704
    def __lshift__(self, o): return self._new(self.term << _term(o))  # noqa: E704
    def __rshift__(self, o): return self._new(self.term >> _term(o))  # noqa: E704
    def __invert__(self): return self._new(~self.term)  # noqa: E704
    def __neg__(self): return self._new(-self.term)  # noqa: E704
    def __floordiv__(self, o): return self._new(self.term / _term(o))  # noqa: E704  (operands are >= 0)
    def __mod__(self, o): return self._new(z3.SRem(self.term, _term(o)))  # noqa: E704

    def __divmod__(self, o):
        return self // o, self % o

    def __eq__(self, o): return SymBool(self.term == _term(o), self.path)  # type: ignore[override]  # noqa: E704
    def __ne__(self, o): return SymBool(self.term != _term(o), self.path)  # type: ignore[override]  # noqa: E704
    def __lt__(self, o): return SymBool(self.term < _term(o), self.path)  # noqa: E704
    def __le__(self, o): return SymBool(self.term <= _term(o), self.path)  # noqa: E704
    def __gt__(self, o): return SymBool(self.term > _term(o), self.path)  # noqa: E704
    def __ge__(self, o): return SymBool(self.term >= _term(o), self.path)  # noqa: E704

    def __bool__(self) -> bool:
        return self.path.truth(self.term != 0)

    def __index__(self) -> int:
        return self.path.value(self.term)

    __int__ = __index__

    def __hash__(self) -> int:
        return hash(self.path.value(self.term))


class SymList(list):
    """A slice of a symbolic state: counting is a sum of indicators instead of a split per element."""

    path: Path

    def count(self, key: Any) -> Any:  # type: ignore[override]
        k = _term(key)
        total = z3.BitVecVal(0, WIDTH)
        for x in self:
            total = total + z3.If(_term(x) == k, z3.BitVecVal(1, WIDTH), z3.BitVecVal(0, WIDTH))
        return SymInt(z3.simplify(total), self.path)


class SymState:
    """A state (or a step's working copy of it) whose slots are terms."""

    __slots__ = ("values", "path")

    def __init__(self, values: list[Any], path: Path) -> None:
        self.values, self.path = values, path

    def _wrap(self, v: Any) -> Any:
        if isinstance(v, SymInt) or (isinstance(v, int) and not isinstance(v, bool)):
            return v
        return SymInt(_term(v), self.path)

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, slice):
            out = SymList(self._wrap(v) for v in self.values[i])
            out.path = self.path
            return out
        return self._wrap(self.values[operator.index(i)])

    def __setitem__(self, i: Any, value: Any) -> None:
        if isinstance(i, slice):
            self.values[i] = list(value)
        else:
            self.values[operator.index(i)] = value

    def __len__(self) -> int:
        return len(self.values)

    def __iter__(self) -> Iterator[Any]:
        return (self._wrap(v) for v in self.values)

    def copy(self) -> "SymState":
        return SymState(list(self.values), self.path)

    def frozen(self) -> "SymState":
        return self

    def terms(self) -> list[Any]:
        return [_term(v) for v in self.values]

    def __eq__(self, other: object) -> bool:  # "did the step change anything" is never asked of terms
        return False

    __hash__ = None  # type: ignore[assignment]


def every_path(solver: Any, run: Callable[[Path], Any],
               known: list[tuple[Any, Any]] | None = None) -> list[tuple[Any, Path]]:
    """Run ``run`` once per path feasible under the solver's assertions; each result with its path.

    ``known`` are values the assertions imply, used to decide without asking z3. An exception the code
    raises is not caught: the bounded model checker asks only about states some run reaches, where the
    explicit engines run the same code without failing.
    """
    return every_run(lambda prefix: Path(solver, prefix, known), run, skip=Infeasible)
