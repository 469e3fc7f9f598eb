"""Hypothesis profiles for the bad-input suites (tests/test_input_*.py).

``default``: what `pytest` runs, about a hundred examples a suite, so that every kind of input gets a few
hundred in all; ``slow``: at least a thousand a suite (`pytest -m slow` runs each suite once more under it;
HYPOTHESIS_PROFILE=slow runs every suite under it). Examples run the command line, whose time varies with
the machine's load, so there is no deadline. Where CI is set (CI systems set it), examples are derived from
each test's name instead of drawn at random, so that a failure there is reproduced by running it again.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

_CI = bool(os.environ.get("CI"))
settings.register_profile("default", max_examples=100, deadline=None, derandomize=_CI,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("slow", settings.get_profile("default"), max_examples=1000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))
