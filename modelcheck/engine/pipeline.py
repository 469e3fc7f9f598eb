"""The successor pipeline, written once (as TLC writes it once in ``Worker.addElement``).

Every explicit strategy takes its transitions from here: each successor of a
state is counted, judged by the transition checks that watch its action (the
list is found once per action and cached), and mapped to the representative
the store keeps (under symmetry). What a strategy does with the successor next
(store it, push it, walk on) is the strategy's.
"""

from __future__ import annotations

from typing import Any, Callable, Container, Iterator

from modelcheck.engine.model import Action, Invariant, State, TransitionCheck
from modelcheck.engine.run import Run

_NONE: tuple[TransitionCheck, ...] = ()
Transition = tuple[Action, State, State, tuple[TransitionCheck, ...]]  # action, successor, its key, checks broken


class Pipeline:
    """Successors of states, judged and keyed, for one run."""

    def __init__(self, run: Run) -> None:
        self.run = run
        self.successors = run.model.successors
        self.invariants: list[Invariant] = run.invariants
        self.checks: list[TransitionCheck] = run.checks
        self.canonical: Callable[[State], State] | None = run.canonical()
        self._watching: dict[Action, tuple[TransitionCheck, ...]] = {}
        run.fired = self._watching.keys()  # the actions that fired: every one passed here

    def watching(self, action: Action) -> tuple[TransitionCheck, ...]:
        """The transition checks that look at ``action`` (asked once per action)."""
        checks = self._watching.get(action)
        if checks is None:
            checks = self._watching[action] = tuple(c for c in self.checks if c.watches(action))
        return checks

    def transitions(self, state: State) -> Iterator[Transition]:
        """Each transition from ``state``: (action, successor, the key the store keeps, the checks it breaks)."""
        return iter(self.unknown_or_broken(state, ()))  # every key is unknown to a store of none

    def unknown_or_broken(self, state: State, known: Container[State]) -> list[Transition]:
        """The transitions from ``state`` that matter to a store holding ``known``: those whose key it does
        not hold (yet: the caller asks again as it admits them) and those that break a check, in order.

        What a breadth-first expansion asks: most successors are known and judged harmless, and this
        drops them without a tuple each (``transitions`` is this with a store of none).
        """
        run, watching, cache, canonical = self.run, self.watching, self._watching, self.canonical
        successors = self.successors(state)
        if successors.__class__ is not list:  # (the interface promises an iterable)
            successors = list(successors)
        run.transitions += len(successors)
        out: list[Transition] = []
        for action, after in successors:
            checks = cache.get(action)
            if checks is None:
                checks = watching(action)
            broken = _NONE
            for check in checks:
                if not check.holds(state, action, after):
                    broken += (check,)
            key = after if canonical is None or after is state else canonical(after)
            if broken or key not in known:
                out.append((action, after, key, broken))
        return out

    def fired_actions(self) -> list[Action]:
        """The distinct actions that fired so far (for a checkpoint)."""
        return list(self._watching)

    def restore_fired(self, actions: list[Action]) -> None:
        for action in actions:
            self.watching(action)

    def broken_invariants(self, state: State) -> list[Invariant]:
        return [inv for inv in self.invariants if not inv.holds(state)]

    def initial_keys(self) -> list[tuple[State, State]]:
        """The initial states with the keys the store keeps, each key once."""
        seen: dict[Any, State] = {}
        for state in self.run.model.initial_states():
            key = state if self.canonical is None else self.canonical(state)
            seen.setdefault(key, state)
        return [(state, key) for key, state in seen.items()]
