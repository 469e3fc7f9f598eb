"""Bad command-line flags: one line, exit status 2, never a traceback, and nothing run.

First the defects found by hand (each failed before its fix), then a Hypothesis suite over every flag
of ``python -m modelcheck``, ``replay``, ``matrix`` and ``policies``.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import strategies as st

from inputs import PROFILES, assert_usage_error, run, run_suite

ROOT = Path(__file__).resolve().parents[1]
C1 = str(ROOT / "specs" / "c1_basic_cow.py")
VMSPLICE = str(ROOT / "specs" / "vmsplice.py")


@pytest.mark.parametrize("flags, needle", [
    (["--time-limit", "nan"], "time_limit must be a positive number of seconds, not nan"),
    (["--time-limit", "inf"], "time_limit must be a positive number of seconds, not inf"),
    (["--time-limit", "1e999"], "time_limit must be a positive number of seconds, not inf"),
    (["--time-limit", "1e12"], "time_limit must be at most 31,622,400 seconds (a year), not 1e+12"),
    (["--max-states", str(2**64)], "max_states must be at most 9,223,372,036,854,775,807, not 18,446,744,073,709,551,616"),
    (["--max-states", "9" * 40], "max_states must be at most 9,223,372,036,854,775,807, not a 40-digit number"),
    (["--workers", "100000"], "workers must be at most"),
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


def test_trace_out_into_no_directory_is_refused_before_running(tmp_path):
    assert_usage_error(run(C1, "--quiet", "--trace-out", str(tmp_path / "no" / "t.json")),
                       f"--trace-out '{tmp_path / 'no' / 't.json'}': not a file in an existing directory")
    assert_usage_error(run(C1, "--quiet", "--trace-out", ""), "--trace-out '': not a file in an existing directory")


@pytest.mark.parametrize("argv", [
    [C1, "--time-limit", "nan"],
    [C1, "--workers", "100000"],
    ["replay", "no-such-trace.json"],
    ["matrix", C1, "--max-states", "-3"],
    ["policies", "--markdown=yes"],
])
def test_the_real_entry_point_refuses_bad_flags_in_one_line(argv, tmp_path):
    proc = subprocess.run([sys.executable, "-m", "modelcheck", *argv], capture_output=True, text=True, cwd=tmp_path)
    assert (proc.returncode, proc.stdout) == (2, ""), proc.stderr
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("modelcheck: ") and "Traceback" not in proc.stderr


# -- the Hypothesis suite: every flag of every command, with at least one wrong ------------------------------------

NAN_AND_FRIENDS = ["nan", "NaN", "-nan", "inf", "+inf", "-inf", "Infinity", "1e999", "-1e999"]
NOT_NUMBERS = ["", " ", "ten", "1,5", "0x10", "1.5.2", "--", "1e", "½"]
HUGE = [str(2**63), str(2**64), "9" * 30, "9" * 4000]
NEGATIVE = ["-1", "-0.5", str(-2**63), "-" + "9" * 30]
PLAIN_TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=12)


def bad_count(least: int) -> st.SearchStrategy[str]:
    """A value a whole-number flag with this least value must refuse."""
    return st.one_of(st.sampled_from(NAN_AND_FRIENDS + NOT_NUMBERS + HUGE + NEGATIVE + ["1.5", "2.0", "1e3"]),
                     st.integers(max_value=least - 1).map(str), st.integers(min_value=2**63).map(str),
                     st.floats(allow_nan=True, allow_infinity=True).map(repr))


BAD_SECONDS = st.one_of(st.sampled_from(NAN_AND_FRIENDS + NOT_NUMBERS + ["0", "-0", "0.0", "-1", "1e12", "1e300"]),
                        st.floats(max_value=0).map(repr), st.floats(min_value=1e8).map(repr),
                        st.integers(max_value=0).map(str))
UNKNOWN_FLAGS = ["--frobnicate", "--verbose", "-z", "--max-statess", "--bfs=1", "--quiet=yes", "---", "--no-stopp"]

# right flags of the check command on spec C1 (any of them run would take milliseconds)
RIGHT_CHECK = [["--quiet"], ["--policy", "mapcount"], ["--policy", "page_count"], ["--no-stop"], ["--bfs"],
               ["--max-states", "100"], ["--time-limit", "30"], ["--reduce"], ["--no-reduce"], ["--json"],
               ["--store", "dict"], ["--workers", "1"]]


@st.composite
def wrong_check_flags(draw: st.DrawFn) -> list[str]:
    """One mistake on the check command line (more may follow): a bad value, NaN, a negative or huge number,
    flags that conflict, an unknown flag or policy or parameter, a missing value."""
    kind = draw(st.sampled_from(["time-limit", "max-states", "workers", "depth", "walks", "seed", "setting away",
                                 "depth away", "store", "engine", "conflict", "policy", "param", "unknown",
                                 "missing value", "spec", "second spec"]))
    if kind == "time-limit":
        return ["--time-limit", draw(BAD_SECONDS)]
    if kind in ("max-states", "workers"):
        return [f"--{kind}", draw(st.one_of(bad_count(1), st.integers(min_value=257, max_value=10**6).map(str)))
                if kind == "workers" else draw(bad_count(1))]
    if kind == "depth":
        return [draw(st.sampled_from(["--simulate", "--engine=bmc"])), "--depth", draw(bad_count(1))]
    if kind in ("walks", "seed"):
        return ["--simulate", f"--{kind}", draw(bad_count(0))]
    if kind == "setting away":  # a setting of another search
        return [draw(st.sampled_from(["--walks", "--seed"])), draw(st.integers(0, 10).map(str))]
    if kind == "depth away":
        return [draw(st.sampled_from(["--bfs", "--dfs", "--dpor"])), "--depth", draw(st.integers(1, 10).map(str))]
    if kind == "store":
        return ["--store", draw(PLAIN_TEXT.filter(lambda v: v not in ("dict", "compact", "fingerprint")))]
    if kind == "engine":
        return ["--engine", draw(PLAIN_TEXT.filter(lambda v: v not in ("explicit", "bmc")))]
    if kind == "conflict":
        return draw(st.sampled_from([["--bfs", "--dfs"], ["--dfs", "--simulate"], ["--dpor", "--bfs"],
                                     ["--reduce", "--no-reduce"], ["--engine", "bmc", "--dfs"],
                                     ["--dfs", "--store", "compact"], ["--dfs", "--workers", "2"],
                                     ["--simulate", "--reduce"], ["--simulate", "--store", "dict"],
                                     ["--dpor", "--workers", "2"], ["--workers", "2", "--store", "dict"],
                                     ["--engine", "bmc"], ["--engine", "bmc", "--depth", "3", "--max-states", "9"],
                                     ["--simulate", "--workers", "3"]]))
    if kind == "policy":
        from modelcheck.cow.policies import policy_names

        return ["--policy", draw(PLAIN_TEXT.filter(lambda v: v not in policy_names()))]
    if kind == "param":  # C1 has no parameters
        return ["--param", draw(st.one_of(PLAIN_TEXT, st.sampled_from(["P=2", "P", "=1", "P=", "M=1=2"])))]
    if kind == "unknown":
        return [draw(st.sampled_from(UNKNOWN_FLAGS))]
    if kind == "missing value":
        return [draw(st.sampled_from(["--max-states", "--time-limit", "--workers", "--policy", "--param", "--store",
                                      "--engine", "--depth", "--trace-out"]))]
    if kind == "spec":
        return ["<replace spec>", draw(st.sampled_from(["no-such-spec.py", "", ".", "specs", "README.md"]))]
    return [draw(st.sampled_from([C1, "extra", "-"]))]  # a second positional argument


@st.composite
def check_command_lines(draw: st.DrawFn) -> list[str]:
    """The spec (C1, or a wrong one) and right flags in any order, with one mistake among them; a flag missing
    its value goes last, where it has none."""
    wrong = draw(wrong_check_flags())
    spec = C1
    if wrong[0] == "<replace spec>":
        spec, wrong = wrong[1], []
    # a right flag that the wrong one sets again would override it, whichever comes last
    groups = [group for group in draw(st.lists(st.sampled_from(RIGHT_CHECK), max_size=4)) if group[0] not in wrong]
    missing_value = len(wrong) == 1 and wrong[0] not in UNKNOWN_FLAGS and wrong[0].startswith("--")
    if wrong and not missing_value:
        groups.insert(draw(st.integers(0, len(groups))), wrong)
    groups.insert(draw(st.integers(0, len(groups))), [spec])
    if missing_value:
        groups.append(wrong)
    return [arg for group in groups for arg in group]


@contextlib.contextmanager
def in_scratch_directory():
    """Run in an empty directory: a command line that wrongly succeeded would write nothing in the project."""
    with tempfile.TemporaryDirectory() as where, contextlib.chdir(where):
        yield Path(where)


@pytest.mark.parametrize("profile_name", PROFILES)
def test_generated_check_command_lines(profile_name):
    def check(argv: list[str]) -> None:
        with in_scratch_directory():
            assert_usage_error(run(*argv))

    run_suite(profile_name, check_command_lines(), check)


@pytest.fixture(scope="module")
def trace_file(tmp_path_factory):
    """A trace file of spec C3's violation under mapcount, written once for the replay suite."""
    path = tmp_path_factory.mktemp("traces") / "traces.json"
    assert run(VMSPLICE, "--quiet", "--policy", "mapcount", "--trace-out", str(path)).code == 0
    assert json.loads(path.read_text())["traces"]
    return str(path)


@st.composite
def replay_command_lines(draw: st.DrawFn, trace: str) -> list[str]:
    """Replay of a good trace file with wrong flags: no spec named, another spec, none there, both ways at
    once, unknown flags, no file or two."""
    wrong = draw(st.sampled_from([[], ["--spec", C1], ["--spec", "no-such-spec.py"], ["--spec", ""],
                                  ["--spec", ROOT.as_posix()], ["--spec", VMSPLICE, "--trust-spec"],
                                  ["--trust-spec", "--spec", C1], ["--spec"], ["--trust-spec=yes"],
                                  [draw(st.sampled_from(UNKNOWN_FLAGS))], ["<no file>"], [trace]]))
    quiet = draw(st.sampled_from([[], ["--quiet"]]))
    if wrong == ["<no file>"]:
        return ["replay", *quiet]
    if wrong == ["--spec"]:
        return ["replay", trace, *quiet, "--spec"]
    parts = draw(st.permutations([[trace], quiet, wrong]))
    return ["replay", *[arg for part in parts for arg in part]]


@pytest.mark.parametrize("profile_name", PROFILES)
def test_generated_replay_command_lines(profile_name, trace_file):
    def check(argv: list[str]) -> None:
        with in_scratch_directory():
            assert_usage_error(run(*argv))

    run_suite(profile_name, replay_command_lines(trace_file), check)


@st.composite
def matrix_and_policies_command_lines(draw: st.DrawFn, out_dir: str) -> list[str]:
    """``matrix`` with a wrong --time-limit, --max-states, --out-dir, spec or flag (always on named specs and
    a scratch --out-dir, so that nothing long runs and nothing in the project is written); ``policies``
    with a flag it does not take."""
    if draw(st.integers(0, 4)) == 0:
        return ["policies", *draw(st.lists(st.sampled_from(["--markdown"]), max_size=1)),
                draw(st.sampled_from(UNKNOWN_FLAGS + ["extra", "--markdown=1", "--json"]))]
    wrong = draw(st.one_of(
        st.tuples(st.just("--time-limit"), BAD_SECONDS).map(list),
        st.tuples(st.just("--max-states"), bad_count(1)).map(list),
        st.sampled_from([["--out-dir", C1], ["--out-dir"], [draw(st.sampled_from(UNKNOWN_FLAGS))],
                         ["--bfs"], ["--workers", "2"], ["--policy", "mapcount"]]),
        st.sampled_from(["no-such-spec.py", ".", "README.md"]).map(lambda spec: ["<spec>", spec])))
    specs = [C1]
    if wrong[0] == "<spec>":
        specs, wrong = [wrong[1]], []
    right = draw(st.lists(st.sampled_from([["--quiet"], ["--max-states", "50"], ["--time-limit", "20"]]), max_size=2))
    argv = [arg for part in right for arg in part] + ["--out-dir", out_dir]
    return ["matrix", *specs, *argv, *wrong]


@pytest.mark.parametrize("profile_name", PROFILES)
def test_generated_matrix_and_policies_command_lines(profile_name):
    def check(data: st.DataObject) -> None:
        with in_scratch_directory() as where:
            argv = data.draw(matrix_and_policies_command_lines(str(where / "out")))
            assert_usage_error(run(*argv))
            assert not (where / "out").exists()

    run_suite(profile_name, st.data(), check)
