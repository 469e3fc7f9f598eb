"""--graph: the whole reachable state graph of a small world, recorded in its traces and drawn with the trace's
path on it (dot-graph, mermaid-graph); a world too big to draw is refused in one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from modelcheck.engine import GraphTooBig, SearchOptions, check, graph_record, state_graph
from modelcheck.faces import export, exports
from modelcheck.faces.cli import main
from modelcheck.spec import bind, load_spec
from toy_models import Counter, NaiveLock

ROOT = Path(__file__).resolve().parents[1]


def c3_model():
    loaded = bind(ROOT / "specs/vmsplice.py", load_spec(ROOT / "specs/vmsplice.py"), [])
    return loaded.world.model("mapcount", tuple(loaded.spec.invariants))


def test_the_graph_holds_every_reachable_state_and_the_trace_is_a_path_of_it():
    model = c3_model()
    graph = state_graph(model)
    everything = check(model, SearchOptions(stop_at_first=False))
    assert graph.number_of_nodes() == everything.stats.states
    assert sum(len(data["labels"]) for _, _, data in graph.edges(data=True)) == everything.stats.transitions
    trace = everything.counterexample
    record = graph_record(graph, trace)
    path = record["path"]
    assert len(path) == len(trace) + 1 and record["nodes"][path[0]]["initial"]
    edges = {(e["source"], e["target"]): e for e in record["edges"]}
    for step, hop in zip(trace.steps, zip(path, path[1:])):
        assert step.label in edges[hop]["labels"]
    assert trace.property in edges[(path[-2], path[-1])]["violates"]  # C3's property judges a transition
    assert sum(1 for e in record["edges"] if e["violates"]) == everything.violations[0].count


def test_an_invariant_broken_in_a_state_marks_its_node():
    model = NaiveLock()
    graph = state_graph(model)
    trace = check(model, SearchOptions()).counterexample
    record = graph_record(graph, trace)
    assert trace.property in record["nodes"][record["path"][-1]]["violates"]


def test_a_world_past_the_limit_is_refused():
    with pytest.raises(GraphTooBig, match="at most 5 reachable states"):
        state_graph(Counter(10), limit=5)
    assert state_graph(Counter(4), limit=5).number_of_nodes() == 5


def test_a_check_of_a_world_too_big_to_draw_is_refused_in_one_line(capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    code = main(["specs/reference.py", "--param", "M=2", "--policy", "mapcount", "--graph", "--quiet"])
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert err == ("modelcheck: specs/reference.py: --graph under mapcount: the whole state graph is drawn for "
                   "worlds of at most 500 reachable states, and this one has more (choose smaller --param values, "
                   "or draw the trace alone)\n")


def test_graph_and_bmc_do_not_combine(capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    code = main(["specs/vmsplice.py", "--engine", "bmc", "--depth", "5", "--graph", "--quiet"])
    assert code == 2 and "--graph draws the explicit state graph" in capsys.readouterr().err


def test_the_trace_file_records_the_graph_valid_under_its_schema(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    traces = tmp_path / "c3.json"
    assert main(["specs/vmsplice.py", "--policy", "mapcount", "--graph", "--quiet", "--trace-out", str(traces)]) == 0
    record = export.read_trace_file(traces).traces[0]
    graph = record["graph"]
    assert graph["limit"] == 500 and len(graph["path"]) == len(record["steps"]) + 1
    assert graph["nodes"][0]["summary"] == "parent a0=p0w pipe=- | p0 (0,0) m1 r1"
    assert main(["replay", str(traces), "--spec", "specs/vmsplice.py", "--quiet"]) == 0  # replay ignores it


@pytest.mark.parametrize("fmt", ["dot-graph", "mermaid-graph"])
def test_a_trace_without_a_graph_asks_for_one(tmp_path, capsys, monkeypatch, fmt):
    monkeypatch.chdir(ROOT)
    traces = tmp_path / "c3.json"
    assert main(["specs/vmsplice.py", "--policy", "mapcount", "--quiet", "--trace-out", str(traces)]) == 0
    capsys.readouterr()
    assert main(["export", str(traces), "--to", fmt]) == 2
    err = capsys.readouterr().err
    assert "records no state graph" in err and "run the check with --graph" in err and err.count("\n") == 1


@pytest.mark.parametrize("fmt", ["dot-graph", "mermaid-graph"])
def test_the_path_is_drawn_on_the_graph(tmp_path, capsys, monkeypatch, fmt):
    """Every step is a highlighted edge, numbered, and only the trace's states are filled as on it."""
    monkeypatch.chdir(ROOT)
    traces = tmp_path / "c3.json"
    assert main(["specs/vmsplice.py", "--policy", "mapcount", "--graph", "--quiet", "--trace-out", str(traces)]) == 0
    record = json.loads(traces.read_text())["traces"][0]
    drawing = exports.render(fmt, [record])
    path = record["graph"]["path"]
    for n, step in enumerate(record["steps"], start=1):
        assert f"step {n}: {step['label']}" in drawing
    if fmt == "dot-graph":
        assert drawing.count("penwidth=2.5") == len(record["steps"])
        assert f"VIOLATES {record['property']}" in drawing.split(f"    n{path[-1]} [", 1)[1].split("\n", 1)[0]
    else:
        assert f"    class {','.join(f'n{n}' for n in sorted(set(path[:-1])))} path" in drawing
        assert f"    class n{path[-1]} violating" in drawing
        assert drawing.count("==>") == len(set(zip(path, path[1:])))


def test_a_path_not_in_its_graph_is_refused(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    traces = tmp_path / "c3.json"
    assert main(["specs/vmsplice.py", "--policy", "mapcount", "--graph", "--quiet", "--trace-out", str(traces)]) == 0
    record = json.loads(traces.read_text())["traces"][0]
    record["graph"]["path"] = list(reversed(record["graph"]["path"]))
    with pytest.raises(exports.ExportError, match="not a path of its recorded state graph"):
        exports.render("dot-graph", [record])
