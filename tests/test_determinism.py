"""The same command gives the same counts, counterexamples and text: run after run, under every store
and every number of workers (the README promises it)."""

import re
from pathlib import Path

import pytest

from modelcheck.engine import SearchOptions, check
from modelcheck.faces.cli import main
from tests.toy_models import NaiveLock

ROOT = Path(__file__).resolve().parents[1]
VMSPLICE = str(ROOT / "specs" / "vmsplice.py")
REFERENCE = str(ROOT / "specs" / "reference.py")
BACKENDS = [["--store", "dict"], ["--store", "compact"], ["--store", "compiled"], ["--store", "fingerprint"],
            ["--workers", "1"], ["--workers", "2"], ["--workers", "3"], ["--workers", "2", "--store", "fingerprint"]]
_ROW = re.compile(r"^(\S+\s+(?:holds|violated|incomplete)\s+\S+\s+[\d,]+\s+[\d,]+\s+\d+)\s+[\d.]+\s+[\d,]+$")


def report(capsys, *argv):
    """The text report without what may differ from run to run: seconds, states per second, the store used."""
    code = main([*argv, "--quiet"])
    out = capsys.readouterr().out
    lines = []
    for line in out.split("\nstores:\n")[0].splitlines():
        row = _ROW.match(line)
        lines.append(row.group(1) if row else line)
    return code, "\n".join(lines).rstrip("\n")


@pytest.mark.parametrize("command", [
    [VMSPLICE, "--policy", "mapcount", "--policy", "page_count"],
    [VMSPLICE, "--policy", "mapcount", "--no-stop"],
    [REFERENCE, "--param", "P=2", "--param", "M=2", "--param", "S=0", "--policy", "mapcount"],
], ids=["vmsplice", "vmsplice-no-stop", "reference-W220"])
def test_every_store_and_worker_count_reports_the_same(capsys, command):
    first = report(capsys, *command, "--store", "dict")
    assert first == report(capsys, *command, "--store", "dict")  # run after run
    assert "counterexample of" in first[1]
    for backend in BACKENDS:
        assert report(capsys, *command, *backend) == first, backend


def test_stop_at_the_first_violation_counts_whole_levels():
    """The race is 4 steps deep; stopping finishes the level of depth 3, so every state up to depth 4 is
    counted, whoever found the violation first."""
    full = check(NaiveLock(), SearchOptions(stop_at_first=False))
    results = [check(NaiveLock(), SearchOptions(**config)) for config in
               ({}, {"store": "compact"}, {"store": "fingerprint"}, {"workers": 2}, {"workers": 3})]
    figures = {(r.stats.states, r.stats.transitions, r.stats.depth, tuple(r.counterexample.labels()))
               for r in results}
    assert len(figures) == 1
    states, _, depth, labels = figures.pop()
    assert depth == 4 and len(labels) == 4 and states <= full.stats.states
