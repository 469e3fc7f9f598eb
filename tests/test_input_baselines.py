"""Nightly baselines: a damaged baseline record is refused in one line naming it, exit 2, before any cell runs
(docs/nightly.md); one that is still a record is compared with tonight's without a traceback. A Hypothesis
suite damages a real night's record every way it can: cut short, bytes changed or added, not UTF-8, nested
deeper than the parser goes, another file's bytes, any value replaced or any field removed."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import strategies as st

from inputs import PROFILES, assert_usage_error, run, run_suite
from modelcheck.faces import nightly as faces_nightly

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = str(ROOT / "tests" / "data" / "nightly_fixture.py")
JSON_VALUES = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                                       max_size=3), max_leaves=6)


@pytest.fixture(scope="module")
def night(tmp_path_factory) -> dict[str, Any]:
    """A real night of the fixture spec: its record is both tonight and the baseline the suite damages."""
    out = tmp_path_factory.mktemp("night")
    assert run("nightly", FIXTURE, "--budget", "20s", "--out", str(out), "--quiet").code == 0
    return json.loads((out / "latest.json").read_text())


def _paths(document: Any, at: tuple = ()) -> list[tuple]:
    """Every JSON path of ``document`` (the root's excepted)."""
    found = [at] if at else []
    if isinstance(document, dict):
        for key, value in document.items():
            found += _paths(value, at + (key,))
    elif isinstance(document, list):
        for n, value in enumerate(document):
            found += _paths(value, at + (n,))
    return found


@st.composite
def damaged(draw: st.DrawFn, good: dict[str, Any]) -> bytes:
    text = json.dumps(good, indent=draw(st.sampled_from([None, 2])))
    data = text.encode()
    how = draw(st.sampled_from(["cut", "byte", "added", "not UTF-8", "deep", "foreign", "value", "removed"]))
    if how == "cut":
        return data[:draw(st.integers(0, len(data) - 1))]
    if how == "byte":
        at = draw(st.integers(0, len(data) - 1))
        return data[:at] + bytes([data[at] ^ draw(st.integers(1, 255))]) + data[at + 1:]
    if how == "added":
        at = draw(st.integers(0, len(data)))
        return data[:at] + draw(st.binary(min_size=1, max_size=64)) + data[at:]
    if how == "not UTF-8":
        at = draw(st.integers(0, len(data)))
        return data[:at] + draw(st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80"])) + data[at:]
    if how == "deep":
        depth = draw(st.integers(5, 200_000))
        return text.replace('"cells": [', '"cells": ' + "[" * depth + "]" * (depth - 1) + ", [", 1).encode()
    if how == "foreign":
        return draw(st.binary(max_size=4096) | st.text(max_size=200).map(str.encode)
                    | st.sampled_from([b"", b"{}", b"[]", b"null", (ROOT / "README.md").read_bytes(),
                                       (ROOT / "results" / "matrix.json").read_bytes()]))
    document = copy.deepcopy(good)
    path = draw(st.sampled_from(_paths(document)))
    parent = document
    for key in path[:-1]:
        parent = parent[key]
    if how == "value":
        parent[path[-1]] = draw(JSON_VALUES)
    else:  # how == "removed"
        del parent[path[-1]]
    return json.dumps(document).encode()


@pytest.mark.parametrize("profile_name", PROFILES)
def test_every_damaged_baseline_is_refused_in_one_line_or_compared(night, tmp_path, profile_name):
    path = tmp_path / "baseline.json"

    def check(data: bytes) -> None:
        path.write_bytes(data)
        try:
            baseline = faces_nightly.read_record(path)
        except ValueError:  # refused: so must the command line be, before any cell runs
            assert_usage_error(run("nightly", FIXTURE, "--baseline", str(path), "--out", str(tmp_path / "out"),
                                   "--quiet"), str(path))
            assert not (tmp_path / "out").exists()
            return
        # still a record: tonight is compared with it and the night's files are rendered from the comparison
        changes = faces_nightly.compare(night, baseline, str(path))
        faces_nightly.headline(night, changes)
        faces_nightly.markdown(night, changes)
        assert faces_nightly.exit_status(night, changes) in (0, 1)

    assert run_suite(profile_name, damaged(night), check) >= 100


def test_the_undamaged_record_is_a_baseline_with_no_change(night, tmp_path):
    path = tmp_path / "baseline.json"
    path.write_text(json.dumps(night))
    changes = faces_nightly.compare(night, faces_nightly.read_record(path), str(path))
    assert not changes.regressions and faces_nightly.exit_status(night, changes) == 0
