"""What a model offers the engine, in the spirit of Stateright's ``Model`` and TLC's
separation of model, search and report.

A model gives initial states, the enabled actions of a state together with the
states they lead to, and properties. States and actions must be immutable and
hashable; actions should be interned objects built once per model (the engine
caches per action which transition checks look at it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Hashable, Iterable, Mapping, Protocol, Sequence, runtime_checkable

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

    What a model may offer beyond this is declared by the capability protocols
    below, each checked with ``isinstance``: a strategy decides from them
    whether it can search the model, and the model only says what it has.
    """

    def initial_states(self) -> Sequence[State]: ...

    def successors(self, state: State) -> Iterable[tuple[Action, State]]: ...

    def properties(self) -> Sequence[Property]: ...

    def action_label(self, action: Action) -> str:
        """A label a person can read, unique among the actions enabled in a state."""
        ...

    def action_actor(self, action: Action) -> str:
        """Who takes the action (a process, a thread, a background agent)."""
        ...

    def describe_transition(self, before: State, action: Action, after: State) -> list[str]:
        """What the action changed, in the user's words."""
        ...

    def state_to_json(self, state: State) -> Any:
        """A JSON-able picture of the state, for traces."""
        ...


# -- capabilities: what a model may offer, each a protocol of its own -------------------------------------------

@runtime_checkable
class Symmetric(Protocol):
    """States that differ by a renaming behave alike: ``canonical`` is one representative of the orbit.

    It must commute with the transitions and the properties, and a
    representative must be its own; an action that changes nothing may return
    the very state object it was given, which a search then does not
    canonicalise again.
    """

    def canonical(self, state: State) -> State: ...


@runtime_checkable
class BatchForm(Protocol):
    """A model's transitions for many states at once, when states are flat tuples of small ints.

    ``checks``: the names of the transition checks and counts it judges (a
    search uses it only if that covers all of the model's); ``actions``: its
    action objects, indexed; ``expand(rows)``: per transition the parent row,
    the action index and the successor row, with the indices of the
    transitions that violate each check and the matches of each count. The
    successor rows may come as 16-bit unsigned ints (a compiled form's, which
    has checked that they fit) or as any integers.
    """

    checks: frozenset[str]
    actions: Sequence[Action]

    def expand(self, rows: Any) -> Any: ...


@runtime_checkable
class SymmetricBatchForm(BatchForm, Protocol):
    """A batch form that also maps a batch of rows to their representatives (``Symmetric`` on rows)."""

    def canonical_rows(self, rows: Any) -> Any: ...


@runtime_checkable
class Batched(Protocol):
    """The model's transitions as array operations on batches of states (``BatchForm``)."""

    def batch_successors(self, compiled: bool = False) -> BatchForm | None:
        """The batch form; None when, for this model's properties or features, it does not apply.
        ``compiled``: the run's loops are compiled (a compiled store), so a compiled form serves best."""
        ...


@runtime_checkable
class StepKeyed(Model, Protocol):
    """Steps one key at a time: a key is a step across states (a thread of a script, one kind of event on
    one object), with at most one enabled action per key in a state, and the actions of one key ordered
    with each other. ``step`` lists what ``successors`` lists for that key."""

    def step_keys(self) -> Sequence[Hashable]: ...

    def step_key(self, action: Action) -> Hashable: ...

    def step(self, state: State, key: Hashable) -> list[tuple[Action, State]]: ...


@runtime_checkable
class Footprinted(StepKeyed, Protocol):
    """Step keys with the locations each step touches: ``footprint(state, key)`` is (reads, writes) from
    ``state``, including what the properties read to judge the transition and the state after it; for a
    key not enabled there, what its test of enabledness read."""

    def footprint(self, state: State, key: Hashable) -> tuple[set[Any], set[Any]]: ...


@runtime_checkable
class Parametric(Protocol):
    """Parameters of the run: initial-state slots a search may leave free, by name.

    ``parameters()`` maps each name (words a person reads, e.g. "references held
    outside on a0") to (slot, least, most), inclusive bounds; ``fixing(values)``
    is the model with them set to ``values`` (by name), to replay a
    counterexample on.
    """

    def parameters(self) -> Mapping[str, tuple[int, int, int]]: ...

    def fixing(self, values: Mapping[str, int]) -> Model: ...


@runtime_checkable
class Covered(Protocol):
    """Coverage items: what the fired actions cover, and every item a run could cover."""

    def coverage_items(self, actions: Iterable[Action]) -> set[str]: ...

    def coverage_universe(self) -> Sequence[str]: ...


@runtime_checkable
class Summarized(Protocol):
    """A state in one short line (a node of a drawn state graph), where ``state_to_json`` is too long."""

    def state_summary(self, state: State) -> str: ...


@runtime_checkable
class Counted(Protocol):
    """The model's own figures of a run (a solver's calls, say), read when the run ends. A figure that is a
    clock reading has a name ending in "seconds" (a report without timing leaves it out)."""

    def figures(self) -> Mapping[str, float]: ...


@dataclass(frozen=True)
class Choice:
    """A choice the model's rules made while taking one action (in the order made), as the model words it.

    ``outcome`` and ``alternative`` name the choice taken and the other one;
    ``why`` says what was chosen and what the rule read to choose it;
    ``alternative_words`` names taking the other one ("copying"); ``data`` is
    the same as JSON-able details for programs.
    """

    kind: str
    outcome: str
    alternative: str
    why: str
    alternative_words: str
    data: Mapping[str, Any] = field(default_factory=dict)


@runtime_checkable
class Decisive(Protocol):
    """Rules that choose (a system's decision rules, a scheduler's heuristics): which choices an action made,
    and the same action taken with one of them the other way, so a trace can say which choice decided its
    violation."""

    def choices(self, before: State, action: Action) -> Sequence[Choice]: ...

    def take_flipped(self, before: State, action: Action, which: int) -> tuple[Action, State] | None:
        """``action`` from ``before`` with its ``which``-th choice the other way; None when that cannot be
        taken (the other way leaves the action disabled)."""
        ...


def batch_form(model: Any, reduce: bool = False, compiled: bool = False) -> BatchForm | None:
    """The model's batch form, if it offers one that serves this run (under ``reduce``, one that maps rows to
    representatives too; ``compiled``: a run of compiled loops)."""
    if not isinstance(model, Batched):
        return None
    form = model.batch_successors(compiled)
    if form is None or (reduce and not isinstance(form, SymmetricBatchForm)):
        return None
    return form


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
