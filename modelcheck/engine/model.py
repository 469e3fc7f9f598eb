"""What a model offers the engine, in the spirit of Stateright's ``Model`` and TLC's
separation of model, search and report.

A model gives initial states, the enabled actions of a state together with the
states they lead to, and properties. States and actions must be immutable and
hashable; actions should be interned objects built once per model (the engine
caches per action which transition checks look at it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Hashable, Iterable, Protocol, Sequence, runtime_checkable

State = Hashable
Action = Hashable


def _always(_action: Action) -> bool:
    return True


@dataclass(frozen=True)
class Invariant:
    """A property every reachable state must have."""

    name: str
    holds: Callable[[State], bool]
    explain: Callable[[State], str]
    doc: str = ""


@dataclass(frozen=True)
class TransitionCheck:
    """A property of every transition (before, action, after).

    An observation (a read) is judged here: what was seen is a function of the
    state before and the action. ``watches`` says which actions the check looks
    at at all; the engine asks it once per action and caches the answer, so the
    hot loop runs only the checks that matter for each action.
    """

    name: str
    holds: Callable[[State, Action, State], bool]
    explain: Callable[[State, Action, State], str]
    watches: Callable[[Action], bool] = field(default=_always)
    doc: str = ""


@dataclass(frozen=True)
class TransitionCount:
    """A transition predicate that is counted, never a violation (e.g. a performance event).

    The run reports how many explored transitions matched; ``watches`` works as
    for ``TransitionCheck``.
    """

    name: str
    matches: Callable[[State, Action, State], bool]
    watches: Callable[[Action], bool] = field(default=_always)
    doc: str = ""


Property = Invariant | TransitionCheck | TransitionCount


@runtime_checkable
class Model(Protocol):
    """The interface the engine searches.

    ``successors`` is the hot path: it returns every enabled action of ``state``
    with the state it leads to, in a fixed order. Everything else is called only
    to build or replay traces.

    A model may also offer ``canonical(state)``: one representative of the
    state's symmetry orbit, used with ``reduce``. It must commute with the
    transitions and the properties, and a representative must be its own; an
    action that changes nothing may return the very state object it was given,
    which the search then does not canonicalise again.

    And ``batch_successors()``: None, or an object that computes the same
    transitions for many states at once, when states are flat tuples of small
    ints. It has ``checks`` (the names of the transition checks and counts it
    judges; it is used only if that covers all of the model's), ``actions``
    (its action objects, indexed), ``expand(rows)`` returning per transition
    the parent row, the action index and the successor row, with the indices
    of the transitions that violate each check and the matches of each count,
    and, to be used under ``reduce``, ``canonical_rows(rows)``.

    And, for dynamic partial-order reduction (``engine.dpor``): ``step_key(action)``
    (which step an action is across states: at most one enabled action per key),
    ``step_keys()`` (every key; None when the model offers no DPOR) and
    ``footprint(state, key)``: the locations the key's step reads and writes
    from ``state``, as two sets, including what the properties read to judge
    the transition and the state after it (for a disabled key: what its test
    of enabledness read).
    """

    def initial_states(self) -> Sequence[State]: ...

    def successors(self, state: State) -> Iterable[tuple[Action, State]]: ...

    def properties(self) -> Sequence[Property]: ...

    def action_label(self, action: Action) -> str:
        """A label a person can read, unique among the actions enabled in a state."""
        ...

    def action_actor(self, action: Action) -> str:
        """Who takes the action (a process, a thread, the kernel)."""
        ...

    def describe_transition(self, before: State, action: Action, after: State) -> list[str]:
        """What the action changed, in the user's words."""
        ...

    def state_to_json(self, state: State) -> Any:
        """A JSON-able picture of the state, for traces."""
        ...


def split_properties(model: Any) -> tuple[list[Invariant], list[TransitionCheck], dict[str, int]]:
    """A model's state invariants and transition checks, and the counters of its counted properties.

    A counted property rides on the same per-action path as a check: it becomes
    a check that always holds and adds its matches to the returned counters.
    """
    properties = list(model.properties())
    invariants = [p for p in properties if isinstance(p, Invariant)]
    checks = [p for p in properties if isinstance(p, TransitionCheck)]
    counters = {p.name: 0 for p in properties if isinstance(p, TransitionCount)}
    for prop in properties:
        if isinstance(prop, TransitionCount):
            checks.append(_counting(prop, counters))
    return invariants, checks, counters


def _counting(prop: TransitionCount, counters: dict[str, int]) -> TransitionCheck:
    def holds(before: State, action: Action, after: State) -> bool:
        if prop.matches(before, action, after):
            counters[prop.name] += 1
        return True

    return TransitionCheck(prop.name, holds, lambda *_: "", prop.watches)


def coverage_of(model: Any, fired: Iterable[Action],
                also: Iterable[str] = ()) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(covered, never covered) coverage items, for models that name them.

    A model may offer ``coverage_items(actions)`` (the items the fired actions
    cover) and ``coverage_universe()`` (every item a run could cover); the
    engine only hands it the set of distinct actions that fired, and ``also``
    the items other processes of the run covered.
    """
    items = getattr(model, "coverage_items", None)
    universe = getattr(model, "coverage_universe", None)
    if items is None or universe is None:
        return (), ()
    covered = set(items(fired)) | set(also)
    return tuple(sorted(covered)), tuple(item for item in universe() if item not in covered)
