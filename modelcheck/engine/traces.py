"""Turning a path the search found into a counterexample a person can read.

Under a symmetry reduction the search walks representatives; a trace must be an
execution of the model itself, so the path is replayed from a real initial
state, taking at each hop a real successor with the next representative.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

from modelcheck.engine.explain import decisions
from modelcheck.engine.model import Invariant, Model, TransitionCheck
from modelcheck.engine.result import Step, Trace


def build_trace(model: Model, name: str, explanation: str, initial: Any,
                hops: list[tuple[Any, Any, Any]]) -> Trace:
    """Render a path (a list of (before, action, after)) into a self-contained trace: per step what changed,
    the state after it and which properties hold there, and the model's choices along it where it makes
    some (``explain``)."""
    judged = [p for p in model.properties() if isinstance(p, (Invariant, TransitionCheck))]
    steps = tuple(
        Step(index=n, actor=model.action_actor(action), label=model.action_label(action),
             changes=tuple(model.describe_transition(before, action, after)),
             state=model.state_to_json(after), judged=tuple((p.name, _holds(p, before, action, after))
                                                            for p in judged))
        for n, (before, action, after) in enumerate(hops, start=1))
    return Trace(property=name, explanation=explanation, initial_state=model.state_to_json(initial),
                 steps=steps, decisions=decisions(model, name, hops))


def _holds(prop: Invariant | TransitionCheck, before: Any, action: Any, after: Any) -> bool:
    if isinstance(prop, Invariant):
        return bool(prop.holds(after))
    return not prop.watches(action) or bool(prop.holds(before, action, after))


def explain(invariants: Sequence[Invariant], checks: Sequence[TransitionCheck], name: str, initial: Any,
            hops: list, ends_in_transition: bool) -> str:
    """The violation in the words of the execution ``hops`` (the search may have seen a representative)."""
    if ends_in_transition:
        before, action, after = hops[-1]
        return next(c for c in checks if c.name == name).explain(before, action, after)
    final = hops[-1][2] if hops else initial
    return next(i for i in invariants if i.name == name).explain(final)


def real_execution(model: Model, canonical: Callable[[Any], Any], checks: Sequence[TransitionCheck],
                   name: str, start: Any, hops: list, ends_in_transition: bool) -> tuple[Any, list]:
    """Turn a path through representatives into an execution of the model itself.

    Renaming commutes with the transitions, so from the real state there is
    always a successor whose representative is the next one on the path (and,
    for the last hop of a transition violation, one that violates the same
    check); take it, preferring the same label.
    """
    by_name = {c.name: c for c in checks}
    state = next(s for s in model.initial_states() if canonical(s) == start)
    initial, real = state, []
    for n, (_, action, after) in enumerate(hops):
        target = canonical(after)
        label = model.action_label(action)
        last_transition = ends_in_transition and n == len(hops) - 1
        options = [(a, t) for a, t in model.successors(state) if canonical(t) == target
                   and (not last_transition or not by_name[name].holds(state, a, t))]
        if not options:
            raise RuntimeError(f"the model's canonical form is not a symmetry: at step {n + 1} ({label}) "
                               f"no successor of the real state has the representative the search reached")
        a, t = next(((a, t) for a, t in options if model.action_label(a) == label), options[0])
        real.append((state, a, t))
        state = t
    return initial, real


def counterexample(model: Model, canonical: Callable[[Any], Any] | None, invariants: Sequence[Invariant],
                   checks: Sequence[TransitionCheck], name: str, explanation: str, initial: Any,
                   hops: list, ends_in_transition: bool) -> Trace:
    """The trace of a path found by the search, made real first when it ran over representatives."""
    if canonical is not None:
        initial, hops = real_execution(model, canonical, checks, name, initial, hops, ends_in_transition)
        explanation = explain(invariants, checks, name, initial, hops, ends_in_transition)
    return build_trace(model, name, explanation, initial, hops)
