"""Checkpoint files: a damaged, truncated, foreign or mismatched checkpoint is refused in one line, exit 2,
and nothing is searched (docs/checkpoints.md, "When it is refused"). A Hypothesis suite damages a real
checkpoint every way it can: cut short, bytes changed, bytes added, another file's bytes."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import strategies as st

from inputs import PROFILES, assert_usage_error, run, run_suite

ROOT = Path(__file__).resolve().parents[1]
VMSPLICE = str(ROOT / "specs" / "vmsplice.py")
COMMAND = [VMSPLICE, "--policy", "mapcount", "--policy", "page_count", "--no-stop", "--quiet"]


@pytest.fixture(scope="module")
def saved(tmp_path_factory) -> bytes:
    """A checkpoint of a whole run of the command (its finished results; resuming it prints them)."""
    path = tmp_path_factory.mktemp("checkpoint") / "run.ck"
    assert run(*COMMAND, "--checkpoint", str(path)).code == 0
    return path.read_bytes()


def test_the_checkpoint_resumes_as_written(saved, tmp_path):
    path = tmp_path / "run.ck"
    path.write_bytes(saved)
    outcome = run(*COMMAND, "--resume", str(path))
    assert outcome.code == 0 and outcome.err == "", outcome.describe()


def damaged(saved: bytes) -> st.SearchStrategy[bytes]:
    cut = st.integers(0, len(saved) - 1).map(lambda n: saved[:n])
    changed = st.tuples(st.integers(0, len(saved) - 1), st.integers(1, 255)).map(
        lambda p: saved[:p[0]] + bytes([saved[p[0]] ^ p[1]]) + saved[p[0] + 1:])
    added = st.tuples(st.integers(0, len(saved)), st.binary(min_size=1, max_size=64)).map(
        lambda p: saved[:p[0]] + p[1] + saved[p[0]:])
    foreign = st.binary(max_size=4096) | st.text(max_size=200).map(str.encode) \
        | st.sampled_from([b"", b"{}", b"modelcheck checkpoint\n", (ROOT / "README.md").read_bytes()])
    return cut | changed | added | foreign


@pytest.mark.parametrize("profile_name", PROFILES)
def test_every_damaged_checkpoint_is_refused_in_one_line(saved, tmp_path, profile_name):
    path = tmp_path / "damaged.ck"

    def check(data: bytes) -> None:
        path.write_bytes(data)
        assert_usage_error(run(*COMMAND, "--resume", str(path)), str(path))

    assert run_suite(profile_name, damaged(saved), check) >= 100


@pytest.mark.parametrize("command", [
    [VMSPLICE, "--policy", "mapcount", "--policy", "anon_exclusive", "--no-stop", "--quiet"],
    [*COMMAND, "--store", "compact"],
    [*COMMAND, "--workers", "2"],
    [*COMMAND[:-2], "--quiet"],  # stops at the first violation
], ids=["policies", "store", "workers", "stop-at-first"])
def test_a_checkpoint_of_another_command_is_refused(saved, tmp_path, command):
    path = tmp_path / "run.ck"
    path.write_bytes(saved)
    assert_usage_error(run(*command, "--resume", str(path)), str(path), "the checkpoint is of another search")
