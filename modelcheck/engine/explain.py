"""Which choice decided a violation: each choice on the trace taken the other way, the schedule kept.

A counterexample says what happened; a reviewer wants to know which rule to
blame. For a model whose rules choose (``Decisive``), every choice made along
the trace is taken the other way in turn, and the rest of the same schedule
(the same actions, by label) is run from there: if it ends without the
violation, that choice decided it. This is the nearest passing run of error
explanation (Groce and Visser, "What went wrong", SPIN 2003) with the distance
fixed at one choice and the schedule held still.
"""

from __future__ import annotations

from typing import Any, Sequence

from modelcheck.engine.model import Choice, Decisive, Invariant, Model, TransitionCheck
from modelcheck.engine.result import Decision

Hop = tuple[Any, Any, Any]  # (before, action, after)


def decisions(model: Model, name: str, hops: Sequence[Hop]) -> tuple[Decision, ...]:
    """The choices along ``hops`` (a path that violates ``name``), each with what its other way does."""
    if not isinstance(model, Decisive) or not hops:
        return ()
    judged = [p for p in model.properties() if isinstance(p, (Invariant, TransitionCheck))]
    labels = [model.action_label(action) for _, action, _ in hops]
    found = []
    for n, (before, action, _) in enumerate(hops, start=1):
        for which, choice in enumerate(model.choices(before, action)):
            result, at, also = _flipped(model, judged, name, hops, labels, n, which)
            found.append(Decision(step=n, actor=model.action_actor(action), kind=choice.kind,
                                  outcome=choice.outcome, alternative=choice.alternative, why=choice.why,
                                  flipped=result, flipped_step=at, also=also, data=dict(choice.data),
                                  words=_words(n, choice, result, at, also, labels)))
    return tuple(found)


def _violates(prop: Invariant | TransitionCheck, before: Any, action: Any, after: Any) -> bool:
    if isinstance(prop, Invariant):
        return not prop.holds(after)
    return prop.watches(action) and not prop.holds(before, action, after)


def _flipped(model: Any, judged: Sequence[Invariant | TransitionCheck], name: str, hops: Sequence[Hop],
             labels: Sequence[str], n: int, which: int) -> tuple[str, int | None, str | None]:
    """Take step ``n`` with its ``which``-th choice the other way, then the trace's later labels: whether
    and where ``name`` is still violated (or the schedule stops), and another property the run violates."""
    before, action, _ = hops[n - 1]
    taken = model.take_flipped(before, action, which)
    if taken is None:
        return "blocked", n, None
    also: str | None = None
    state, step = before, n
    while True:
        action, after = taken
        for prop in judged:
            if _violates(prop, state, action, after):
                if prop.name == name:
                    return "still_violated", step, also
                also = also or f"{prop.name} at step {step}"
        state, step = after, step + 1
        if step > len(hops):
            return "avoids", None, also
        enabled = {model.action_label(a): (a, t) for a, t in model.successors(state)}
        if labels[step - 1] not in enabled:
            return "diverges", step, also
        taken = enabled[labels[step - 1]]


def _words(n: int, choice: Choice, result: str, at: int | None, also: str | None, labels: Sequence[str]) -> str:
    other = choice.alternative_words
    if result == "avoids":
        tail = f"{other} here avoids the violation" + (f" (but then {also} is violated)" if also else "")
    elif result == "still_violated":
        tail = f"{other} here still ends in the violation, at step {at}"
    elif result == "diverges":
        assert at is not None
        tail = f"with {other} here the schedule stops at step {at} ('{labels[at - 1]}' is not enabled)"
    else:
        tail = f"{other} cannot be taken here"
    return f"step {n}: {choice.why}; {tail}"
