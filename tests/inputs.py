"""Helpers for the bad-input suites: run the command line in-process and judge what it printed.

Every suite checks the same promise (README, "Using it"): a user's mistake is one line on stderr
naming what is wrong, exit status 2, and never a traceback.
"""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass
from typing import Callable, TypeVar

import pytest
from hypothesis import given, settings
from hypothesis.strategies import SearchStrategy

from modelcheck.faces.cli import main

T = TypeVar("T")

# one run of each Hypothesis suite per profile (tests/conftest.py): the default suite runs the default
# profile's examples, `pytest -m slow` the slow profile's
PROFILES = [pytest.param("default", id="default"), pytest.param("slow", id="slow", marks=pytest.mark.slow)]


def profile(name: str) -> settings:
    """The settings of a suite's run: the loaded profile for "default" (HYPOTHESIS_PROFILE picks it), else
    the profile named."""
    return settings() if name == "default" else settings.get_profile(name)


@dataclass(frozen=True)
class Outcome:
    code: int
    out: str
    err: str

    def describe(self) -> str:
        return f"exit {self.code}\n--- stdout\n{self.out}--- stderr\n{self.err}"


def run(*argv: str) -> Outcome:
    """``python -m modelcheck ARGV`` in this process, its output captured (SystemExit counts as an exit)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(argv))
        except SystemExit as stop:  # only --help may get here; anything else is a defect the caller sees
            code = stop.code if isinstance(stop.code, int) else 1
    return Outcome(code, out.getvalue(), err.getvalue())


def assert_usage_error(outcome: Outcome, *needles: str) -> None:
    """Exit status 2, exactly one line on stderr (starting 'modelcheck: '), nothing on stdout, no traceback."""
    assert outcome.code == 2, outcome.describe()
    assert outcome.out == "", outcome.describe()
    assert outcome.err.count("\n") == 1 and outcome.err.endswith("\n"), outcome.describe()
    assert outcome.err.startswith("modelcheck: "), outcome.describe()
    assert "Traceback" not in outcome.err, outcome.describe()
    for needle in needles:
        assert needle in outcome.err, f"{needle!r} not in\n{outcome.describe()}"


def run_suite(profile_name: str, strategy: SearchStrategy[T], check: Callable[[T], None]) -> int:
    """Run ``check`` on examples of ``strategy`` under the profile; say (pytest -s) and return how many ran."""
    ran: list[None] = []

    @settings(profile(profile_name))
    @given(strategy)
    def each(example: T) -> None:
        ran.append(None)
        check(example)

    each()
    print(f"\n{len(ran)} examples")
    return len(ran)
