"""The ``spec`` export: a counterexample written as a scripted scenario's spec file that re-runs it.

Round trips: a spec's trace exported, the exported file run under the trace's
policy, and the re-run's verdict, property and steps compared with the trace
(the schedule pins the interleaving, so the shortest counterexample is the
trace itself), and the refusals, one line each.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from modelcheck.cow.trace_scenario import OPEN_TO_SCRIPTED, ReproduceError, reproduce
from modelcheck.engine import SearchOptions, Verdict, check
from modelcheck.faces.cli import main

ROOT = Path(__file__).resolve().parents[1]


def run_quietly(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def traces_of(capsys, tmp_path: Path, spec: str, policy: str, *extra: str) -> tuple[Path, list[dict]]:
    """A real run's trace file of ``spec`` under ``policy`` (from the repository's root), and its traces."""
    path = tmp_path / f"{Path(spec).stem}-{policy}.json"
    code, _, err = run_quietly(capsys, spec, "--policy", policy, "--quiet", "--trace-out", str(path), *extra)
    assert code == 0, err
    return path, json.loads(path.read_text())["traces"]


def scripted_labels(trace: dict) -> list[str]:
    """The trace's steps as the scenario labels them: an open world's ``write(a0)`` is ``store a0``."""
    labels = []
    for step in trace["steps"]:
        actor, _, action = step["label"].partition(" ")
        if actor != "kernel" and action.endswith(")"):
            kind, _, operand = action[:-1].partition("(")
            action = OPEN_TO_SCRIPTED[kind] + (f" {operand}" if operand else "")
        labels.append(f"{actor} {action}")
    return labels


def round_trip(capsys, tmp_path: Path, spec: str, policy: str) -> int:
    """Export every trace of ``spec`` under ``policy`` as a spec, re-run each under ``policy``, and check that
    it finds the trace again (verdict violated as expected, exit 0, same property, the same steps)."""
    path, traces = traces_of(capsys, tmp_path, spec, policy)
    assert traces, f"{spec} holds under {policy}"
    for n, trace in enumerate(traces, 1):
        exported = tmp_path / f"{Path(spec).stem}-{policy}-{n}.py"
        code, out, err = run_quietly(capsys, "export", str(path), "--to", "spec", "--trace", str(n),
                                     "--out", str(exported))
        assert (code, out, err) == (0, "", ""), err
        code, out, err = run_quietly(capsys, str(exported), "--policy", policy, "--json", "--quiet")
        assert code == 0, err
        result, = json.loads(out)["results"]
        assert (result["verdict"], result["expected"], result["as_expected"]) == ("violated", "violated", True)
        assert result["violation"]["property"] == trace["property"]
        assert [step["label"] for step in result["counterexample"]] == scripted_labels(trace)
    return len(traces)


@pytest.fixture(autouse=True)
def from_the_root(monkeypatch):
    monkeypatch.chdir(ROOT)


@pytest.mark.parametrize("spec, policy", [
    ("specs/vmsplice.py", "mapcount"),                      # C3: an open world
    ("specs/c7_iouring_mprotect.py", "page_count"),
    ("specs/c8_iouring_fork.py", "page_count"),
    ("specs/o2f_odirect_fork.py", "page_count_fork_copy"),  # two properties broken: two traces
    ("specs/o10_speculative_reference.py", "page_count"),   # a kernel event (a speculative reference)
    ("specs/o10_lru_batch.py", "page_count"),               # pages that start in an LRU batch
    ("specs/o8_uffd_wp_stale_tlb.py", "page_count"),        # TLBs: an operation the kernel splits in two
])
def test_an_exported_counterexample_re_runs_as_a_spec(capsys, tmp_path, spec, policy):
    assert round_trip(capsys, tmp_path, spec, policy) >= 1


def test_the_exported_spec_of_an_open_world_keeps_its_processes_and_kernel_events(capsys, tmp_path):
    """W(2,1,1) of the reference world under mapcount, its shortest leak with a speculative reference
    taken first by a schedule of the kernel's step: the export names the event and its page."""
    _, (trace,) = traces_of(capsys, tmp_path, "specs/reference.py", "mapcount", "--param", "S=1")
    steps = [{"label": "kernel spec_get(page 0)", "actor": "kernel"}] + trace["steps"]
    r = reproduce(dict(trace, steps=steps, initial_state=None))
    assert r.open_world and r.events == ("spec",) and r.speculative == 1
    assert r.schedule[0] == "kernel spec_get(page 0)"
    model = r.world().model("mapcount", [trace["property"]])
    result = check(model, SearchOptions())
    assert result.verdict is Verdict.VIOLATED
    assert result.counterexample is not None and result.counterexample.labels() == list(r.labels)


@pytest.mark.slow
def test_every_violated_cell_of_the_matrix_re_runs_as_a_spec(capsys, tmp_path):
    """Every spec x policy results/matrix.json finds violated: its traces export and re-run, except the
    traces whose world holds references outside the scenario in a number z3 finds (O16), refused in one line."""
    matrix = json.loads((ROOT / "results" / "matrix.json").read_text())
    spec_of = {row["id"]: row["spec"] for row in matrix["scenarios"]}
    exported = refused = 0
    for cell in matrix["cells"]:
        if cell["verdict"] != "violated":
            continue
        spec, policy = spec_of[cell["scenario"]], cell["policy"]
        path, traces = traces_of(capsys, tmp_path, spec, policy)
        if any(trace["initial_state"].get("held_outside") for trace in traces):
            code, out, err = run_quietly(capsys, "export", str(path), "--to", "spec", "--trace", "1")
            assert (code, out) == (2, "") and err.count("\n") == 1 and "references outside" in err
            refused += 1
            continue
        exported += round_trip(capsys, tmp_path, spec, policy)
    assert exported > 80 and refused <= 10


def test_what_a_spec_wrote_cannot_break_out_of_the_spec_file(capsys, tmp_path):
    nasty = 'a "quoted" \\ back """ triple\nnewline\\'
    path, (trace,) = traces_of(capsys, tmp_path, "specs/vmsplice.py", "mapcount")
    document = json.loads(path.read_text())
    document["traces"][0].update(title=nasty, explanation=nasty, spec_id="C3" + nasty, spec_as_given=nasty)
    path.write_text(json.dumps(document))
    exported = tmp_path / "nasty.py"
    assert run_quietly(capsys, "export", str(path), "--to", "spec", "--out", str(exported))[0] == 0
    tree = ast.parse(exported.read_text())
    flat = " ".join(nasty.split())
    assert flat in (ast.get_docstring(tree) or "")
    code, out, err = run_quietly(capsys, str(exported), "--policy", "mapcount", "--quiet")
    assert code == 0 and f"C3{flat}-mapcount" in out


# -- the refusals, one line each --------------------------------------------------------------------------------

def _refused(capsys, path: Path) -> str:
    code, out, err = run_quietly(capsys, "export", str(path), "--to", "spec")
    assert (code, out) == (2, "") and err.count("\n") == 1 and err.startswith("modelcheck: ")
    assert "cannot be written as a spec" in err
    return err


def test_a_symbolic_references_trace_is_refused(capsys, tmp_path):
    path, _ = traces_of(capsys, tmp_path, "specs/o10_speculative_reference.py", "page_count", "--symbolic-refs")
    assert "symbolic references" in _refused(capsys, path)


def test_a_parametric_bmc_trace_is_refused(capsys, tmp_path):
    path, _ = traces_of(capsys, tmp_path, "specs/o16_maybe_pinned_false_positive.py", "page_count_fork_copy",
                        "--engine", "bmc", "--depth", "6")
    assert "bounded model checker chose" in _refused(capsys, path)


def test_references_held_outside_the_scenario_are_refused(capsys, tmp_path):
    path, _ = traces_of(capsys, tmp_path, "specs/o16_maybe_pinned_false_positive.py", "page_count_fork_copy")
    assert "references outside the scenario" in _refused(capsys, path)


def test_a_trace_the_scenario_does_not_re_run_is_refused(capsys, tmp_path):
    """An edited trace: the child reads its pipe before anything filled it, so nothing re-runs it."""
    path, (trace,) = traces_of(capsys, tmp_path, "specs/vmsplice.py", "mapcount")
    document = json.loads(path.read_text())
    document["traces"][0]["steps"] = [trace["steps"][0], trace["steps"][4]]
    path.write_text(json.dumps(document))
    assert "does not re-run it: step 2 'child1 pipe_read' is not enabled" in _refused(capsys, path)


def test_a_label_this_world_never_writes_is_refused(capsys, tmp_path):
    path, (trace,) = traces_of(capsys, tmp_path, "specs/vmsplice.py", "mapcount")
    document = json.loads(path.read_text())
    document["traces"][0]["steps"][1] = {"label": "child1 mmap(a0)", "actor": "child1"}
    path.write_text(json.dumps(document))
    assert "mmap is no action of the open world" in _refused(capsys, path)


def test_a_file_of_several_traces_asks_for_one(capsys, tmp_path):
    path, traces = traces_of(capsys, tmp_path, "specs/o2f_odirect_fork.py", "page_count_fork_copy")
    assert len(traces) == 2
    code, out, err = run_quietly(capsys, "export", str(path), "--to", "spec")
    assert (code, out) == (2, "") and err.count("\n") == 1 and "--trace N" in err


@pytest.mark.parametrize("trace, said", [
    ({"policy": "p", "property": "q", "steps": [{"label": "kernel reclaim(page 0)"}]}, "no kernel event"),
    ({"policy": "p", "property": "q", "steps": [{"label": "child1 fork()"}]}, "the parent takes no step"),
    ({"policy": "p", "property": "q", "steps": []}, "no steps"),
    ({"policy": "p", "property": "q", "steps": [{"label": "parent fork()"}, {"label": "parent store a0"}]},
     "mixes an open world's actions"),
])
def test_reproduce_names_what_it_cannot_read(trace, said):
    with pytest.raises(ReproduceError, match=said):
        reproduce(trace)
