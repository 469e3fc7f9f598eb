"""The nightly run: bound ladders, the budget's order, the four files it writes, and regressions against a baseline."""

from __future__ import annotations

import json
import re
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from modelcheck import Spec
from modelcheck.cow import CowWorld
from modelcheck.cow.policies import policy_names
from modelcheck.faces import nightly as faces_nightly
from modelcheck.faces.cli import main
from modelcheck.nightly import Cell, SynchronousExecutor, climb

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "data" / "nightly_fixture.py"
TAP_LINE = re.compile(r"^(TAP version 13|1\.\.\d+|(not )?ok \d+ \S.*|# .*)$")


def _world(P: int = 2, M: int = 1) -> CowWorld:
    return CowWorld(processes=P, addresses=M)


# -- the ladder a spec declares -------------------------------------------------------------------------------------

def test_a_spec_without_a_ladder_has_one_rung_its_parameters():
    spec = Spec(id="x", title="t", world=_world, params={"P": 2, "M": 1}, invariants=["no_leak_to_child"])
    assert spec.rungs() == [{"P": 2, "M": 1}]


def test_a_ladder_climbs_from_the_spec_parameters():
    spec = Spec(id="x", title="t", world=_world, params={"P": 2, "M": 1}, invariants=["no_leak_to_child"],
                ladder=[{}, {"M": 2}, {"P": 3, "M": 2}])
    assert spec.rungs() == [{"P": 2, "M": 1}, {"P": 2, "M": 2}, {"P": 3, "M": 2}]


@pytest.mark.parametrize("ladder, says", [
    ([{}, {"Q": 2}], "ladder rung 2 names 'Q', which is not a parameter of this spec (its parameters: P, M)"),
    ([{}, {"P": "3"}], "ladder rung 2: P must be a int like its default 2, not '3'"),
    ([{}, {"P": True}], "ladder rung 2: P must be a int like its default 2"),
    ([{"M": 2}], "ladder rung 1 must be the spec's parameters"),
    ([{}, {"M": 2}, {"M": 2}], "ladder rung 3 repeats rung 2"),
    ([], "has at least one rung"),
    ({"M": 2}, "ladder must be a list of parameter overrides"),
    ([{}, "M=2"], "ladder rung 2 must be a mapping"),
])
def test_a_ladder_is_checked_when_the_spec_is_made(ladder, says):
    with pytest.raises(ValueError, match=re.escape(says)):
        Spec(id="x", title="t", world=_world, params={"P": 2, "M": 1}, invariants=["no_leak_to_child"],
             ladder=ladder)


def test_every_shipped_spec_ladder_binds():
    """Each rung of each spec in specs/ builds its world (the nightly plan binds them all before it runs)."""
    from modelcheck.nightly import plan

    from modelcheck.spec import load_spec

    cells = plan([str(p) for p in sorted((ROOT / "specs").glob("*.py"))])
    assert {len(c.rungs) for c in cells if c.spec_id == "reference"} == {5}
    assert all(c.rungs[0] == dict(load_spec(c.spec).params) for c in cells)  # a night starts where a run does
    assert len({c.spec_id for c in cells}) == len(list((ROOT / "specs").glob("*.py")))


def test_a_bad_ladder_is_one_line_exit_2(tmp_path, capsys):
    spec = tmp_path / "bad.py"
    spec.write_text("from modelcheck import Spec\nfrom modelcheck.cow import CowWorld\n"
                    "SPEC = Spec(id='b', title='t', world=lambda P: CowWorld(P, 1, 0), params={'P': 2},\n"
                    "            invariants=['no_leak_to_child'], ladder=[{}, {'P': 99}])\n")
    assert main(["nightly", str(spec), "--out", str(tmp_path / "out"), "--budget", "5s"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and str(spec) in err and "ladder rung 2" in err and "P=99" in err
    assert not (tmp_path / "out").exists()


# -- the budget's order, with a cell function that searches nothing -------------------------------------------------

class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _cells(verdicts: dict[str, list[str]]) -> list[Cell]:
    return [Cell(spec=name, spec_id=name, title=name, policy="p", expected=None,
                 rungs=tuple({"n": n} for n in range(len(found)))) for name, found in verdicts.items()]


def test_every_cell_smallest_rung_runs_before_any_cell_next_one_and_a_violation_stops_the_climb():
    found = {"a": ["holds", "holds", "holds"], "b": ["violated", "holds", "holds"], "c": ["holds", "holds"]}
    order: list[tuple[str, int]] = []

    def run(spec: str, params: dict, policy: str, options: dict) -> dict:
        order.append((spec, params["n"]))
        return {"verdict": found[spec][params["n"]], "vacuous": False}

    climbs = climb(_cells(found), 60.0, SynchronousExecutor(), run)
    assert order == [("a", 0), ("b", 0), ("c", 0), ("a", 1), ("c", 1), ("a", 2)]
    assert [c.rung for c in climbs] == [3, 1, 2]


def test_a_rung_the_budget_cuts_off_is_not_reported_as_reached_and_limits_come_from_what_is_left():
    clock = _Clock()
    limits: list[float] = []

    def run(spec: str, params: dict, policy: str, options: dict) -> dict:
        limits.append(options["time_limit"])
        spent = 4.0 if params["n"] == 0 else options["time_limit"]  # rung 1 needs more than it is given
        clock.now += spent
        return {"verdict": "holds" if params["n"] == 0 else "incomplete", "vacuous": False}

    climbs = climb(_cells({"a": ["holds"] * 3, "b": ["holds"] * 3}), 20.0, SynchronousExecutor(), run, clock=clock)
    assert limits[:2] == [10.0, 16.0]  # a's share of 20 s among two cells at rung 1, then b gets all that is left
    assert [c.rung for c in climbs] == [1, 1]
    assert [a["verdict"] for a in climbs[0].attempts] == ["holds", "incomplete"]
    assert climbs[0].reached is climbs[0].attempts[0]


def test_a_rung_its_share_cut_off_is_tried_again_with_what_the_others_left():
    clock = _Clock()
    need = {"a": 5.0, "b": 1.0, "c": 1.0}
    tries: list[tuple[str, float]] = []

    def run(spec: str, params: dict, policy: str, options: dict) -> dict:
        tries.append((spec, options["time_limit"]))
        clock.now += min(need[spec], options["time_limit"])
        return {"verdict": "holds" if need[spec] <= options["time_limit"] else "incomplete", "vacuous": False}

    climbs = climb(_cells({"a": ["holds"], "b": ["holds"], "c": ["holds"]}), 12.0, SynchronousExecutor(), run,
                   clock=clock)
    assert tries == [("a", 4.0), ("b", 4.0), ("c", 7.0), ("a", 6.0)]
    assert [c.rung for c in climbs] == [1, 1, 1]
    assert [a["verdict"] for a in climbs[0].attempts] == ["holds"] and len(climbs[0].retried) == 1


def test_a_cell_that_raises_stops_there_and_the_night_goes_on():
    def run(spec: str, params: dict, policy: str, options: dict) -> dict:
        if spec == "a":
            raise RuntimeError("boom")
        return {"verdict": "holds", "vacuous": False}

    climbs = climb(_cells({"a": ["holds"], "b": ["holds"]}), 5.0, SynchronousExecutor(), run)
    assert climbs[0].error == "RuntimeError: boom" and climbs[0].rung == 0
    assert climbs[1].rung == 1


# -- a night, end to end ----------------------------------------------------------------------------------------------

def _night(tmp_path: Path, *args: str) -> int:
    return main(["nightly", *args, "--out", str(tmp_path / "out"), "--quiet"])


def test_a_night_writes_the_four_files_and_each_reads(tmp_path, capsys):
    specs = [str(ROOT / "specs" / "vmsplice.py"), str(ROOT / "specs" / "c1_basic_cow.py"),
             str(ROOT / "specs" / "o10_speculative_reference.py")]
    assert _night(tmp_path, *specs, "--budget", "8s") == 0
    out = tmp_path / "out"
    record = json.loads((out / "latest.json").read_text())
    Draft202012Validator(faces_nightly.nightly_schema()).validate(record)
    policies = len(policy_names())
    cells = 3 * policies
    assert record["schema"] == "modelcheck.nightly/1" and len(record["cells"]) == cells
    assert record["machine"]["cores"] >= 1
    c3 = {c["policy"]: c for c in record["cells"] if c["spec_id"] == "C3"}
    assert c3["mapcount"]["verdict"] == "violated" and c3["mapcount"]["bound"] == {"P": 2, "M": 1}
    assert c3["page_count"]["rung"] >= 1 and c3["page_count"]["rung"] < 4  # W(3,2,0) never fits 8 s
    assert c3["page_count"]["incomplete"] is None or c3["page_count"]["incomplete"]["bound"] != c3["page_count"]["bound"]

    suite = ET.parse(out / "junit.xml").getroot().find("testsuite")
    assert suite is not None and suite.get("tests") == str(cells) and suite.get("failures") == "0"
    assert len(suite.findall("testcase")) == cells

    lines = (out / "results.tap").read_text().splitlines()
    assert lines[:2] == ["TAP version 13", f"1..{cells}"]
    assert all(TAP_LINE.match(line) for line in lines), [line for line in lines if not TAP_LINE.match(line)]
    assert sum(1 for line in lines if line.startswith(("ok ", "not ok "))) == cells
    # after C1, and C3 under dirty_cow (the first policy)
    assert f"ok {policies + 2} C3 vmsplice() + unmap in the child (CVE-2020-29374) [mapcount] # bound P=2 M=1" in lines
    assert lines[-1] == f"# Totals: pass:{cells} fail:0 xfail:0 xpass:0 skip:0 error:0"

    summary = (out / "summary.md").read_text()
    assert summary.startswith("# Nightly ") and "pass" in summary.splitlines()[0]
    assert "| **C3** vmsplice()" in summary
    history = (out / "history.tsv").read_text().splitlines()
    assert history[0].split("\t") == list(faces_nightly.HISTORY_COLUMNS) and len(history) == cells + 1

    trace = out / c3["mapcount"]["counterexample"]
    capsys.readouterr()
    assert main(["replay", str(trace), "--spec", specs[0], "--quiet"]) == 0
    assert "replays; no_leak_to_child violated at step 5" in capsys.readouterr().out


def test_a_budget_that_reaches_no_bound_skips_every_cell_and_exits_3(tmp_path):
    """A budget too small for the first rung of the open world's page_count (which climbs for seconds)."""
    spec = tmp_path / "big.py"
    spec.write_text("from modelcheck import Spec\nfrom modelcheck.cow import CowWorld\n"
                    "SPEC = Spec(id='big', title='too big tonight', world=lambda: CowWorld(3, 2, 0),\n"
                    "            policies=['page_count'], invariants=['no_leak_across_fork'])\n")
    assert _night(tmp_path, str(spec), "--budget", "0.5s") == 3
    lines = (tmp_path / "out" / "results.tap").read_text().splitlines()
    assert lines[3] == "ok 1 big too big tonight [page_count] # SKIP no bound reached within the budget"
    assert lines[-1] == "# Totals: pass:0 fail:0 xfail:0 xpass:0 skip:1 error:0"
    suite = ET.parse(tmp_path / "out" / "junit.xml").getroot().find("testsuite")
    assert suite is not None and suite.get("skipped") == "1"
    cell = json.loads((tmp_path / "out" / "latest.json").read_text())["cells"][0]
    assert cell["rung"] == 0 and cell["bound"] is None and cell["verdict"] == "incomplete"
    assert cell["incomplete"]["bound"] == {}


def test_workers_give_the_counts_of_one_process(tmp_path):
    spec = str(ROOT / "specs" / "vmsplice.py")
    assert main(["nightly", spec, "--out", str(tmp_path / "one"), "--budget", "4s", "--quiet"]) == 0
    assert main(["nightly", spec, "--out", str(tmp_path / "two"), "--budget", "4s", "--quiet", "--workers", "2"]) == 0
    one, two = (json.loads((tmp_path / d / "latest.json").read_text())["cells"] for d in ("one", "two"))
    assert two[0]["verdict"] == "violated" and "local dask cluster of 2" in json.loads(
        (tmp_path / "two" / "latest.json").read_text())["executor"]
    for a, b in zip(one, two):
        if a["bound"] == b["bound"]:
            assert (a["verdict"], a["states"], a["transitions"]) == (b["verdict"], b["states"], b["transitions"])


@pytest.mark.parametrize("where", [["--scheduler", "tcp://127.0.0.1:8786"], ["--workers", "2"]])
def test_a_cluster_without_dask_is_refused_in_one_line(tmp_path, capsys, monkeypatch, where):
    monkeypatch.setitem(sys.modules, "distributed", None)  # as if installed without the distributed extra
    monkeypatch.setitem(sys.modules, "dask", None)
    assert _night(tmp_path, str(FIXTURE), *where) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "distributed" in err and "not installed" in err


# -- regressions against a baseline -----------------------------------------------------------------------------------

def _fixture(tmp_path: Path, broken: bool) -> str:
    path = tmp_path / "fixture.py"
    path.write_text(FIXTURE.read_text().replace("BROKEN = False", f"BROKEN = {broken}"))
    return str(path)


def test_a_broken_policy_is_a_regression_against_the_baseline_and_named(tmp_path, capsys):
    assert _night(tmp_path, _fixture(tmp_path, broken=False), "--budget", "20s") == 0
    baseline = tmp_path / "baseline.json"
    baseline.write_text((tmp_path / "out" / "latest.json").read_text())
    capsys.readouterr()
    assert _night(tmp_path, _fixture(tmp_path, broken=True), "--budget", "20s", "--baseline", str(baseline)) == 1
    err = capsys.readouterr().err
    assert "FIX under fixture_rule: holds at as written -> violated at as written" in err
    assert "a new violation" in err and "FIX under page_count" not in err
    summary = (tmp_path / "out" / "summary.md").read_text().splitlines()
    assert summary[0].endswith(": FAIL") and summary[2] == "1 regression(s) since the baseline:"
    assert "fixture_rule" in summary[4]
    failure = ET.parse(tmp_path / "out" / "junit.xml").getroot().find(".//failure")
    assert failure is not None and "child1 observes" in (failure.text or "")
    assert "not ok 2 FIX basic COW after fork(), fixture policy [fixture_rule] # bound as written" in \
        (tmp_path / "out" / "results.tap").read_text()


def test_the_default_baseline_is_the_latest_record_and_a_fix_is_not_a_regression(tmp_path, capsys):
    assert _night(tmp_path, _fixture(tmp_path, broken=True), "--budget", "20s") == 1  # differs from history
    capsys.readouterr()
    assert _night(tmp_path, _fixture(tmp_path, broken=False), "--budget", "20s") == 0
    summary = (tmp_path / "out" / "summary.md").read_text()
    assert f"Baseline: {tmp_path / 'out' / 'latest.json'}." in summary
    assert "Fixed:\n\n- FIX under fixture_rule: violated at as written -> holds" in summary
    assert len((tmp_path / "out" / "history.tsv").read_text().splitlines()) == 1 + 2 * 2
    assert len(list((tmp_path / "out" / "nights").glob("*.json"))) >= 1
    assert not list((tmp_path / "out" / "traces").glob("*.json"))  # last night's counterexample went with it


def _record(cells: list[dict]) -> dict:
    return {"budget_seconds": 60.0, "cells": cells}


def _cell(**fields: object) -> dict:
    cell = {"spec_id": "S", "policy": "p", "expected": "holds", "verdict": "holds", "rung": 1, "bound": {"P": 2},
            "states": 10, "transitions": 20, "seconds": 1.0}
    cell.update(fields)
    return cell


@pytest.mark.parametrize("tonight, says, regression", [
    (_cell(states=11), "S under p: at P=2 10 states, 20 transitions -> 11 states, 20 transitions", True),
    (_cell(seconds=2.0), "S under p: 2.0x slower at P=2 (1.00 s -> 2.00 s)", False),
    (_cell(seconds=1.4), None, False),
    (_cell(rung=0, bound=None, verdict="incomplete", states=None), "S under p: no bound reached", False),
    (_cell(verdict="violated", expected=None), "holds at P=2 -> violated at P=2 (expected: not stated): a new "
                                               "violation", True),
])
def test_what_changed_since_the_baseline(tonight, says, regression):
    changes = faces_nightly.compare(_record([tonight]), _record([_cell()]), "base.json")
    found = changes.regressions + changes.slower + changes.lower
    assert (says is None and not found) or any(says in line for line in found)
    assert bool(changes.regressions) is regression


def test_a_smaller_bound_reached_is_news_not_a_failure():
    tonight = {"budget_seconds": 60.0, "cells": [_cell()]}
    changes = faces_nightly.compare(tonight, {**tonight, "cells": [_cell(rung=2, bound={"P": 3})]}, "base.json")
    assert changes.lower == ["S under p: reached P=2, the baseline P=3"] and not changes.regressions
    changes = faces_nightly.compare(tonight, {"budget_seconds": 90.0, "cells": [_cell(rung=2, bound={"P": 3})]},
                                    "base.json")
    assert changes.lower == ["S under p: reached P=2, the baseline P=3 (its budget was 90 s)"]


def test_a_changed_verdict_is_one_regression_not_also_a_change_of_counts():
    changes = faces_nightly.compare(_record([_cell(verdict="violated", states=4)]), _record([_cell()]), "b.json")
    assert len(changes.regressions) == 1 and "a new violation" in changes.regressions[0]


def test_a_damaged_baseline_is_refused_in_one_line(tmp_path, capsys):
    baseline = tmp_path / "b.json"
    baseline.write_text('{"schema": "modelcheck.nightly/1", "cells": "none"}')
    assert _night(tmp_path, str(FIXTURE), "--baseline", str(baseline)) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and str(baseline) in err


# -- the workflow CI runs every night ---------------------------------------------------------------------------------

def _readme_nightly_command() -> str:
    section = (ROOT / "README.md").read_text().split("\n## Nightly\n", 1)[1].split("\n## ", 1)[0]
    block = section.split("```sh\n", 1)[1].split("```", 1)[0]
    commands = [line for line in block.splitlines() if line.strip()]
    assert len(commands) == 1 and commands[0].startswith("python -m modelcheck nightly ")
    return commands[0]


def test_the_nightly_workflow_is_yaml_that_runs_the_readme_command_on_a_schedule():
    yaml = pytest.importorskip("yaml")
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "nightly.yml").read_text())
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as true
    assert "workflow_dispatch" in triggers
    assert all(len(entry["cron"].split()) == 5 for entry in triggers["schedule"]) and triggers["schedule"]
    steps = [step for job in workflow["jobs"].values() for step in job["steps"]]
    runs = [line.strip() for step in steps for line in step.get("run", "").splitlines()]
    assert _readme_nightly_command() in runs
    out = _readme_nightly_command().split("--out ", 1)[1].split()[0]
    uploaded = next(step["with"]["path"] for step in steps if step.get("uses", "").startswith("actions/upload-artifact"))
    for name in ("latest.json", "summary.md", "junit.xml", "results.tap"):
        assert f"{out}/{name}" in uploaded.split()
    reports = [step for step in steps if step.get("uses", "").startswith("mikepenz/action-junit-report")]
    assert reports and reports[0]["with"]["report_paths"] == f"{out}/junit.xml" and reports[0]["if"] == "always()"
