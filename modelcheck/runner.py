"""Run a bound spec under its policies, and replay saved traces.

This is the one place that joins a spec's world to the engine; the faces call
it and only read what it returns.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Iterator, Sequence

from modelcheck.engine import Result, SearchOptions, Verdict, check, replay
from modelcheck.engine.progress import Progress
from modelcheck.engine.replay import ReplayOutcome
from modelcheck.spec import LoadedSpec, SpecError

if TYPE_CHECKING:
    from modelcheck.cow.policies.catalogue import PolicyEntry


@dataclass(frozen=True)
class PolicyRun:
    """One policy's run of one spec."""

    policy: str
    invariants: tuple[str, ...]
    expected: str | None  # the verdict expected (see Spec.expected), None when unknown
    result: Result
    missing_coverage: tuple[str, ...] = ()  # what the spec's ``covers`` asked for and never fired

    @property
    def as_expected(self) -> bool | None:
        """False when the verdict differs from a known expectation or the run was vacuous;
        None when the run ended incomplete or nothing is expected; else True."""
        if self.missing_coverage:
            return False
        if self.result.verdict is Verdict.INCOMPLETE or self.expected is None:
            return None
        return self.result.verdict.value == self.expected


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
        judged = result.verdict is not Verdict.INCOMPLETE and not (result.violations and options.stop_at_first) \
            and result.strategy != "bmc"  # the bounded model checker does not enumerate what fired
        missing = tuple(item for item in loaded.spec.covers if item not in result.covered) if judged else ()
        yield PolicyRun(policy=policy, invariants=invariants, expected=loaded.spec.expected(policy),
                        result=result, missing_coverage=missing)
        if result.interrupted:
            return


def replay_trace(loaded: LoadedSpec, policy: str, invariants: Sequence[str], property_name: str,
                 labels: Sequence[str], initial_state=None, recorded_states=None,
                 parameters: dict[int, int] | None = None) -> ReplayOutcome:
    """Re-execute a recorded counterexample on the spec's world under ``policy`` (with the run's
    parameters at the values the bounded model checker found, if it left any free)."""
    known = loaded.world.invariant_names()
    for name in invariants:
        if name not in known:
            raise SpecError(loaded.path, f"the trace names unknown invariant {name!r}")
    if policy not in loaded.world.policy_names():
        raise SpecError(loaded.path, f"the trace names unknown policy {policy!r}")
    model = loaded.world.model(policy, tuple(invariants))
    if parameters:
        model = model.fixing(parameters)
    return replay(model, property_name, labels, initial_state=initial_state,
                  recorded_states=recorded_states)


def policy_catalogue() -> list[PolicyEntry]:
    """Every known policy as plain data, oldest first: name, release, commits, rule, and its base and
    pieces in order (commit id or proposal, release, what it changes, the decisions it overrides)."""
    from modelcheck.cow.policies.catalogue import catalogue

    return catalogue()
