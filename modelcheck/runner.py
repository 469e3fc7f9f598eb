"""Run a bound spec under its policies, and replay saved traces.

This is the one place that joins a spec's world to the engine; the faces call
it and only read what it returns.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator, Sequence

from modelcheck.engine import Result, SearchOptions, Verdict, check, replay
from modelcheck.engine.progress import Progress
from modelcheck.engine.replay import ReplayOutcome
from modelcheck.spec import LoadedSpec, SpecError


@dataclass(frozen=True)
class PolicyRun:
    """One policy's run of one spec."""

    policy: str
    invariants: tuple[str, ...]
    expected: str | None  # what the spec states, None when it states nothing
    result: Result

    @property
    def expected_verdict(self) -> str:
        """A spec with no expectation for a policy expects it to hold."""
        return self.expected or "holds"

    @property
    def as_expected(self) -> bool | None:
        """True or False for a finished run; None when the run ended incomplete."""
        if self.result.verdict is Verdict.INCOMPLETE:
            return None
        return self.result.verdict.value == self.expected_verdict


def chosen_invariants(loaded: LoadedSpec) -> tuple[str, ...]:
    known = loaded.world.invariant_names()
    for name in loaded.spec.invariants:
        if name not in known:
            raise SpecError(loaded.path, f"unknown invariant {name!r} (known: {', '.join(known)})")
    return tuple(loaded.spec.invariants)


def run_spec(loaded: LoadedSpec, policies: Sequence[str], options: SearchOptions,
             progress: Callable[[], Progress] = Progress) -> Iterator[PolicyRun]:
    """Check the spec under each policy in turn; stop early if the user interrupts."""
    invariants = chosen_invariants(loaded)
    for policy in policies:
        model = loaded.world.model(policy, invariants)
        result = check(model, options, progress(), title=f"{loaded.spec.id} {policy}")
        yield PolicyRun(policy=policy, invariants=invariants,
                        expected=loaded.spec.expected(policy), result=result)
        if result.interrupted:
            return


def replay_trace(loaded: LoadedSpec, policy: str, invariants: Sequence[str], property_name: str,
                 labels: Sequence[str], initial_state=None, recorded_states=None) -> ReplayOutcome:
    """Re-execute a recorded counterexample on the spec's world under ``policy``."""
    known = loaded.world.invariant_names()
    for name in invariants:
        if name not in known:
            raise SpecError(loaded.path, f"the trace names unknown invariant {name!r}")
    if policy not in loaded.world.policy_names():
        raise SpecError(loaded.path, f"the trace names unknown policy {policy!r}")
    model = loaded.world.model(policy, tuple(invariants))
    return replay(model, property_name, labels, initial_state=initial_state,
                  recorded_states=recorded_states)
