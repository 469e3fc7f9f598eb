"""The C reproducer (``--to c``): generated from real counterexamples, compiled with gcc, run on this kernel.

Each scripted scenario that is violated under some policy gives a counterexample
schedule; the model replays that schedule under the policy of the running
kernel's era (``runner.era_policy`` of ``uname -r``) and the generated program
runs it on the kernel: where the program can judge (its RESULT is holds or
violated), the two must agree. A negative control (every judgement inverted)
must report violated, so a check that cannot fail would show.
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from modelcheck import runner
from modelcheck.engine import SearchOptions
from modelcheck.faces import export, exports
from modelcheck.faces.cli import main
from modelcheck.spec import bind, load_spec

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "tests" / "data" / "golden"
RESULT = re.compile(r"^RESULT (\S+) (holds|violated|unsupported) (.*)$", re.M)
ON_LINUX = sys.platform.startswith("linux")
GCC = shutil.which("gcc")
needs_gcc = pytest.mark.skipif(GCC is None and not os.environ.get("CI"),
                               reason="no gcc (.ci/run installs it: under CI these tests run)")
needs_linux = pytest.mark.skipif(not ON_LINUX, reason="the reproducers are Linux programs")


@cache
def matrix_verdicts() -> dict[str, dict[str, str]]:
    """Scenario id -> policy -> verdict, from the generated matrix."""
    cells = json.loads((ROOT / "results" / "matrix.json").read_text())["cells"]
    table: dict[str, dict[str, str]] = {}
    for cell in cells:
        table.setdefault(cell["scenario"], {})[cell["policy"]] = cell["verdict"]
    return table


def era() -> str:
    policy = runner.era_policy(platform.release())
    assert policy is not None, f"no merged policy declares kernel {platform.release()}"
    return policy


def violating_policies(spec_id: str) -> list[str]:
    """The policies under which the matrix found the scenario violated, in the catalogue's order."""
    verdicts = matrix_verdicts()[spec_id]
    return [e["name"] for e in runner.policy_catalogue() if verdicts.get(e["name"]) == "violated"]


def chosen_policy(spec_id: str) -> str | None:
    """The era's policy if it violates the scenario, else the newest merged policy that does, else the first
    proposal that does; None when none does."""
    merged = [e["name"] for e in runner.policy_catalogue() if all(p["merged"] for p in e["pieces"])]
    violating = violating_policies(spec_id)
    if era() in violating:
        return era()
    newest = [p for p in merged if p in violating]
    return newest[-1] if newest else (violating[0] if violating else None)


@cache
def spec_id_of(spec_file: str) -> str:
    return load_spec(ROOT / "specs" / spec_file).id


@cache
def counterexample(spec_file: str, policy: str | None = None) -> tuple[dict[str, Any], str | None] | None:
    """The spec's counterexample under ``policy`` (default ``chosen_policy``), and what the model says of that
    schedule under the era's policy: violated, holds, or None when the era's model cannot run it to its end."""
    path = ROOT / "specs" / spec_file
    loaded = runner.prepare(bind(path, load_spec(path)), SearchOptions())
    policy = policy or chosen_policy(loaded.spec.id)
    if policy is None:
        return None
    run = next(runner.run_spec(loaded, [policy], SearchOptions()))
    record = export.trace_document(loaded, [run], ROOT / "trace.json")["traces"][0]
    return record, era_verdict(loaded, record)


def era_verdict(loaded: Any, record: dict[str, Any]) -> str | None:
    """What the era's model says of the record's schedule and property, judged after every step as the
    program judges it: violated if some step violates it, holds if none does, None if the era's model
    cannot take some step of the schedule."""
    labels = [step["label"] for step in record["steps"]]
    for n in range(1, len(labels) + 1):
        outcome = runner.replay_trace(loaded, era(), record["invariants"], record["property"], labels[:n])
        if outcome.ok:
            return "violated"
        if outcome.failed_step != n or "does not violate" not in (outcome.reason or ""):
            return None
    return "holds"


THREAD_ORDER = re.compile(r"^(parent|child(\d+))(?:\.(\d+))?$")


def _thread_rank(actor: str) -> tuple[int, int]:
    m = THREAD_ORDER.match(actor)
    assert m, actor
    return int(m.group(2) or 0), int(m.group(3) or 1)


@cache
def program_order(spec_file: str, prop: str) -> tuple[dict[str, Any], str | None] | None:
    """A whole run of a scripted scenario in program order (each step the enabled operation of the first
    thread, parent before its second thread before child1, ..., kernel events never), as a trace record for
    the property ``prop``, and the era's model's verdict on it; None for an open world."""
    path = ROOT / "specs" / spec_file
    loaded = bind(path, load_spec(path))
    if loaded.world.scenario is None:
        return None
    model = loaded.world.model(era(), (prop,))
    state = next(iter(model.initial_states()))
    initial, steps = model.state_to_json(state), []
    while True:
        enabled = [(model.action_label(a), after) for a, after in model.successors(state)]
        threads = [(label, after) for label, after in enabled if not label.startswith("kernel ")]
        if not threads:
            break
        label, state = min(threads, key=lambda pair: _thread_rank(pair[0].split(" ", 1)[0]))
        steps.append({"index": len(steps) + 1, "actor": label.split(" ", 1)[0], "label": label,
                      "changes": [], "state": model.state_to_json(state)})
    record = {"spec_id": loaded.spec.id, "title": loaded.spec.title, "params": loaded.params, "variants": [],
              "policy": era(), "invariants": [prop], "property": prop, "initial_state": initial,
              "parameters": {}, "steps": steps}
    return record, era_verdict(loaded, record)


def compile_and_run(source: str, tmp_path: Path, name: str) -> tuple[str, str, str]:
    """Build the program with -Wall -Werror, run it under a timeout: (scenario, result, detail) of its RESULT."""
    c_file, binary = tmp_path / f"{name}.c", tmp_path / name
    c_file.write_text(source)
    built = subprocess.run([GCC or "gcc", "-Wall", "-Werror", "-O1", "-o", str(binary), str(c_file)],
                           capture_output=True, text=True)
    assert built.returncode == 0, built.stderr
    ran = subprocess.run([str(binary)], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    found = RESULT.findall(ran.stdout)
    assert len(found) == 1, ran.stdout + ran.stderr
    assert ran.stdout.startswith("TAP version 13\n") or "\nTAP version 13\n" in ran.stdout
    return found[0]


def _live_agrees(spec_file: str, tmp_path: Path, policy: str | None = None) -> tuple[str, str, str | None]:
    """Run the counterexample's program; where it judges, its result must be the era's model's."""
    found = counterexample(spec_file, policy)
    if found is None:
        pytest.skip(f"{spec_file}: no policy violates it, so there is no counterexample schedule to run")
    record, model = found
    scenario, result, detail = compile_and_run(runner.c_reproducer(record), tmp_path, record["spec_id"])
    assert scenario == record["spec_id"]
    if result == "unsupported":
        return result, detail, model
    assert model is not None, f"{spec_file}: the live kernel judged ({result}: {detail}) a schedule the " \
                              f"{era()} model cannot run to its end"
    assert result == model, f"{spec_file} under {record['policy']}'s schedule on {platform.release()} " \
                            f"({era()}): live {result} ({detail}), model {model}"
    return result, detail, model


# -- the era ---------------------------------------------------------------------------------------------------

def test_the_era_of_a_release_comes_from_the_policies_declared_releases():
    assert runner.era_policy("6.18.44-fc") == "odirect_pins_6_5"
    assert runner.era_policy("6.4.16") == "anon_exclusive_6_2"
    assert runner.era_policy("6.1.0") == "anon_exclusive"
    assert runner.era_policy("5.19") == "anon_exclusive"
    assert runner.era_policy("5.18.3") == "refcount_5_18"
    assert runner.era_policy("5.10.200") == "page_count_fork_copy"
    assert runner.era_policy("5.8.0") == "gup_cow_break"
    assert runner.era_policy("4.19.0") == "mapcount"
    assert runner.era_policy("not a release") is None
    proposals = {e["name"] for e in runner.policy_catalogue() if not all(p["merged"] for p in e["pieces"])}
    assert not proposals & {runner.era_policy(f"{major}.{minor}") for major in (4, 5, 6, 7) for minor in range(20)}


# -- the generated source ----------------------------------------------------------------------------------------

def test_the_c7_reproducer_is_the_golden_file():
    """Regenerated by: python -m modelcheck specs/c7_iouring_mprotect.py --policy page_count --quiet --export c
    --out tests/data/golden/c7-page_count.c"""
    loaded = bind(ROOT / "specs" / "c7_iouring_mprotect.py", load_spec(ROOT / "specs" / "c7_iouring_mprotect.py"))
    run = next(runner.run_spec(loaded, ["page_count"], SearchOptions()))
    record = export.trace_document(loaded, [run], ROOT / "trace.json")["traces"][0]
    assert exports.render("c", [record]) == (GOLDEN / "c7-page_count.c").read_text()


def test_a_trace_of_free_parameters_is_a_one_line_usage_error(capsys, tmp_path):
    found = counterexample("vmsplice.py")
    assert found is not None
    record = dict(found[0], parameters={"h0": 1023})
    trace_file = tmp_path / "t.json"
    trace_file.write_text(json.dumps({"schema": export.TRACE_SCHEMA, "modelcheck": "0", "traces": [record]}))
    code = main(["export", str(trace_file), "--to", "c"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "C reproducer" in err and "parameters" in err


def test_a_step_no_program_can_force_makes_an_unsupported_program():
    found = counterexample("o10_speculative_reference.py")
    assert found is not None
    source = runner.c_reproducer(found[0])
    assert "RESULT %s unsupported %s" in source and "speculative page reference" in source
    assert "do_store" not in source  # no verdict is even attempted


def test_a_property_the_kernel_does_not_show_is_unsupported():
    found = counterexample("o16_maybe_pinned_false_positive.py")
    assert found is not None
    assert "not visible from user space" in runner.c_reproducer(found[0])


# -- on this kernel ----------------------------------------------------------------------------------------------

@needs_linux
@needs_gcc
@pytest.mark.parametrize("spec_file", ["vmsplice.py", "c5_vmsplice_before_fork.py", "c8_iouring_fork.py"])
def test_the_live_kernel_agrees_with_the_model_of_its_era(spec_file, tmp_path):
    result, detail, model = _live_agrees(spec_file, tmp_path)
    if result == "unsupported":
        pytest.skip(f"{spec_file}: {detail}")


@needs_linux
@needs_gcc
def test_the_device_sees_the_owners_last_write_through_the_pin(tmp_path):
    """C8 run whole: the device's read through the io_uring fixed buffer (after fork and the parent's store)
    is judged against the parent's store, as the era's model judges it."""
    found = program_order("c8_iouring_fork.py", "no_lost_write")
    assert found is not None
    record, model = found
    assert record["steps"][-1]["label"] == "parent dma_read buf"
    scenario, result, detail = compile_and_run(runner.c_reproducer(record), tmp_path, "c8-whole")
    if result == "unsupported":
        pytest.skip(detail)
    assert (result, model) == ("holds", "holds")


@needs_linux
@needs_gcc
def test_the_negative_control_reports_violated(tmp_path):
    """The same programs with every judgement inverted: where the kernel holds they must say violated, so the
    checks are seen to be able to fail."""
    for spec_file in ("vmsplice.py", "c8_iouring_fork.py"):
        found = counterexample(spec_file)
        assert found is not None
        record, model = found
        scenario, result, detail = compile_and_run(runner.c_reproducer(record, invert=True), tmp_path,
                                                   f"{record['spec_id']}-inverted")
        if result == "unsupported":
            pytest.skip(f"{spec_file}: {detail}")
        assert (model, result) == ("holds", "violated"), detail


@needs_linux
@needs_gcc
def test_a_step_the_kernel_refuses_makes_the_run_unsupported_not_a_verdict(tmp_path):
    """A store into a mapping made read-only (a schedule edited by hand) is killed by SIGSEGV: the program
    says so, and gives no verdict."""
    found = counterexample("c8_iouring_fork.py")
    assert found is not None
    record = json.loads(json.dumps(found[0]))
    record["steps"].insert(1, dict(record["steps"][0], label="parent mprotect_ro a0", state=None))
    scenario, result, detail = compile_and_run(runner.c_reproducer(record), tmp_path, "c8-refused")
    if "skip:" in detail:
        pytest.skip(detail)
    assert (scenario, result) == ("C8", "unsupported") and "SIGSEGV" in detail


@needs_linux
@needs_gcc
def test_a_unforceable_program_compiles_and_says_why(tmp_path):
    found = counterexample("o10_page_lock.py")
    assert found is not None
    scenario, result, detail = compile_and_run(runner.c_reproducer(found[0]), tmp_path, "o10-lock")
    assert (scenario, result) == ("O10-lock", "unsupported") and "page lock" in detail


SPEC_FILES = sorted(p.name for p in (ROOT / "specs").glob("*.py"))
SCHEDULES = [(spec_file, policy) for spec_file in SPEC_FILES
             for policy in violating_policies(spec_id_of(spec_file))]


@pytest.mark.slow
@needs_linux
@needs_gcc
@pytest.mark.parametrize("spec_file, policy", SCHEDULES)
def test_every_counterexample_on_the_live_kernel(spec_file, policy, tmp_path):
    """Every scenario's counterexample under every policy that violates it, on this kernel."""
    result, detail, model = _live_agrees(spec_file, tmp_path, policy)
    if result == "unsupported":
        pytest.skip(f"{spec_file} under {policy}'s schedule: {detail}")


WHOLE_RUNS = [(spec_file, prop) for spec_file in SPEC_FILES
              for prop in load_spec(ROOT / "specs" / spec_file).invariants]


@pytest.mark.slow
@needs_linux
@needs_gcc
@pytest.mark.parametrize("spec_file, prop", WHOLE_RUNS)
def test_every_whole_run_on_the_live_kernel(spec_file, prop, tmp_path):
    """Every scripted scenario run whole in program order (no kernel event), each of its properties."""
    found = program_order(spec_file, prop)
    if found is None:
        pytest.skip(f"{spec_file}: an open world has no program order")
    record, model = found
    scenario, result, detail = compile_and_run(runner.c_reproducer(record), tmp_path, record["spec_id"])
    if result == "unsupported":
        pytest.skip(f"{spec_file} {prop}: {detail}")
    assert model is not None and result == model, f"{spec_file} {prop}: live {result} ({detail}), model {model}"
