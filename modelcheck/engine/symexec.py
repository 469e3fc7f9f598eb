"""Symbolic execution of a model's own step code, for the bounded model checker (``bmc``).

A state that is a flat tuple of small integers can be replaced by a
``SymState`` of z3 bit-vector terms; the model's successor code then runs on
it unchanged. Arithmetic and bitwise operations build terms; wherever the code
needs a Python value (an ``if``, a list index, a dictionary key, ``range``),
``Path`` asks z3 which values are feasible under the path's constraints and
the code is run once per feasible choice (``every_path``). Each run yields the
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

WIDTH = 32


def _term(value: Any) -> Any:
    if isinstance(value, SymInt):
        return value.term
    if z3.is_expr(value):
        return value
    if isinstance(value, bool):
        return z3.BitVecVal(int(value), WIDTH)
    return z3.BitVecVal(operator.index(value), WIDTH)


class Infeasible(Exception):
    """The path's constraints contradict each other (never expected: every choice is checked first)."""


class StalePath(Exception):
    """A term was used after its path ended (kept in a memo across steps, say): a bug to fix, never a
    path to drop."""


class TooManyValues(Exception):
    """The step code needs a term as a Python value, and the term has too many feasible values."""


class Path:
    """The choices of one run through the step code: replayed from ``prefix``, then the first feasible
    one, remembering each other feasible choice for a later run."""

    VALUES_CAP = 4096  # a value the code needs concretely, with more feasible values than this, is an error

    def __init__(self, solver: Any, prefix: tuple[Any, ...] = ()) -> None:
        self.solver = solver  # holds what every state satisfies; each constraint of the path is pushed on it
        self.prefix = prefix
        self.taken: list[Any] = []
        self.constraints: list[Any] = []
        self.pending: list[tuple[Any, ...]] = []
        self.model: Any = None
        self.closed = False

    def _constrain(self, condition: Any, keeps_model: bool = False) -> None:
        self.constraints.append(condition)
        self.solver.push()
        self.solver.add(condition)
        if not keeps_model:
            self.model = None

    def close(self) -> None:
        """Take the path's constraints off the solver."""
        for _ in self.constraints:
            self.solver.pop()
        self.closed = True

    def _feasible(self, extra: Any) -> bool:
        self.solver.push()
        self.solver.add(extra)
        answer = self.solver.check() == z3.sat
        self.solver.pop()
        return answer

    def _model(self) -> Any:
        """A solution of the path's constraints (one check, then kept while choices agree with it)."""
        if self.model is None:
            if self.solver.check() != z3.sat:
                raise Infeasible("the path is infeasible")
            self.model = self.solver.model()
        return self.model

    def truth(self, condition: Any) -> bool:
        if self.closed:
            raise StalePath("a symbolic value was used after its path ended")
        condition = z3.simplify(condition)
        if z3.is_true(condition):
            return True
        if z3.is_false(condition):
            return False
        n = len(self.taken)
        if n < len(self.prefix):
            choice = bool(self.prefix[n])
            self.taken.append(choice)
            self._constrain(condition if choice else z3.Not(condition))
            return choice
        # the outcome the current solution takes is feasible; only the other one needs asking
        choice = z3.is_true(self._model().eval(condition, model_completion=True))
        if self._feasible(z3.Not(condition) if choice else condition):
            self.pending.append(tuple(self.taken) + (not choice,))
        self.taken.append(choice)
        self._constrain(condition if choice else z3.Not(condition), keeps_model=True)
        return choice

    def value(self, term: Any) -> int:
        """A concrete value of ``term``; a later run takes each other feasible one."""
        if self.closed:
            raise StalePath("a symbolic value was used after its path ended")
        term = z3.simplify(term)
        if z3.is_bv_value(term):
            return term.as_signed_long()
        n = len(self.taken)
        if n < len(self.prefix):
            v = int(self.prefix[n])
        else:
            values = self._values(term)
            v = values[0]
            self.pending.extend(tuple(self.taken) + (w,) for w in values[1:])
        self.taken.append(v)
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
                                    f"possibilities: bound the state's slots more tightly")
            self.solver.add(term != z3.BitVecVal(v, WIDTH))
        self.solver.pop()
        if not found:
            raise Infeasible("the path is infeasible")
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


def every_path(solver: Any, run: Callable[[Path], Any]) -> tuple[list[tuple[Any, Path]], int]:
    """Run ``run`` once per feasible path; returns the results and how many paths failed.

    A path on which the code raises an ``IndexError``, ``KeyError``, ``ValueError`` or ``RuntimeError`` is
    dropped: its
    input is a vector the slot bounds allow but no execution reaches (the code runs on every reachable
    state explicitly too, and never fails there). The bounded model checker's cross-check against the
    explicit search is what shows that assumption holds.
    """
    results, dropped, todo = [], 0, [()]
    while todo:
        path = Path(solver, todo.pop())
        try:
            results.append((run(path), path))
        except Infeasible:
            pass
        except (IndexError, KeyError, ValueError, RuntimeError):
            dropped += 1
        finally:
            path.close()
        todo.extend(path.pending)
    return results, dropped
