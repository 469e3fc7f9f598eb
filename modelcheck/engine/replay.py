"""Re-execute a saved counterexample against a model, step by step.

A trace replays when every step's label names an action enabled in the state
reached so far, every state reached matches the one recorded (when recorded),
and the trace's property is violated by its last step. The first step that
fails is reported, so a stale or edited trace says where it stopped matching.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from modelcheck.engine.model import Invariant, Model, TransitionCheck
from modelcheck.engine.result import Trace
from modelcheck.engine.traces import build_trace


@dataclass(frozen=True)
class ReplayOutcome:
    ok: bool
    failed_step: int | None  # 0 = the initial state, n = the n-th step
    reason: str | None
    trace: Trace | None  # the trace as re-executed (ok runs only)


def _fail(step: int, reason: str) -> ReplayOutcome:
    return ReplayOutcome(ok=False, failed_step=step, reason=reason, trace=None)


def replay(model: Model, property_name: str, labels: Sequence[str],
           initial_state: Any = None, recorded_states: Sequence[Any] | None = None) -> ReplayOutcome:
    """Replay ``labels`` from the initial state (the one matching ``initial_state`` if given).

    Traces are executions of the model itself, also when they were found under
    a reduction, so they replay without one.
    """
    props = {p.name: p for p in model.properties()}
    if property_name not in props:
        return _fail(0, f"the model has no property {property_name!r} (it has: {', '.join(props) or 'none'})")
    prop = props[property_name]
    initials = list(model.initial_states())
    if initial_state is not None:
        initials = [s for s in initials if model.state_to_json(s) == initial_state]
        if not initials:
            return _fail(0, "the recorded initial state is not an initial state of the model")
    state = initials[0]
    if not labels:
        return _fail(0, "the trace has no steps")
    hops = []
    for n, label in enumerate(labels, start=1):
        enabled = {model.action_label(a): (a, after) for a, after in model.successors(state)}
        if label not in enabled:
            shown = ", ".join(sorted(enabled)) or "none"
            return _fail(n, f"step {n} '{label}' is not enabled (enabled: {shown})")
        action, after = enabled[label]
        if recorded_states is not None and n <= len(recorded_states) \
                and recorded_states[n - 1] is not None \
                and model.state_to_json(after) != recorded_states[n - 1]:
            return _fail(n, f"step {n} '{label}' leads to a state other than the recorded one")
        hops.append((state, action, after))
        state = after
    before, action, after = hops[-1]
    if isinstance(prop, Invariant):
        violated = not prop.holds(after)
    else:
        assert isinstance(prop, TransitionCheck)
        violated = prop.watches(action) and not prop.holds(before, action, after)
    if not violated:  # a property explains only its violations (a check may refuse to explain a step it passes)
        return _fail(len(labels), f"the last step does not violate {property_name}")
    explanation = prop.explain(after) if isinstance(prop, Invariant) else prop.explain(before, action, after)
    return ReplayOutcome(ok=True, failed_step=None, reason=None,
                         trace=build_trace(model, property_name, explanation, initials[0], hops))
