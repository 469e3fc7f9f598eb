"""Exports of a counterexample: C3's mapcount trace as Markdown, Mermaid, DOT, HTML and a spec file, and its whole
state graph (recorded with --graph) as DOT and Mermaid, pinned byte for byte, the same from a check run as from its
trace file, and the one-line refusals."""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from modelcheck import __version__
from modelcheck.faces import exports
from modelcheck.faces.cli import main

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "tests" / "data" / "golden"


def cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def pinned(text: str) -> str:
    """What a golden file holds: the export with the tool's version, which changes from run to run of the
    project, taken out (the spec is given relative to the repository, so no machine path is in it)."""
    return text.replace(f"modelcheck {__version__}", "modelcheck VERSION")


@pytest.fixture(scope="module")
def c3_trace(tmp_path_factory):
    """A trace file of C3 under mapcount with its state graph, written by a real run from the repository's root."""
    path = tmp_path_factory.mktemp("c3") / "c3.json"
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(ROOT)
        assert main(["specs/vmsplice.py", "--policy", "mapcount", "--quiet", "--graph",
                     "--trace-out", str(path)]) == 0
    return path


@pytest.mark.parametrize("fmt", ["md", "mermaid", "dot", "html", "spec", "dot-graph", "mermaid-graph"])
def test_the_c3_mapcount_counterexample_exports_as_pinned(capsys, c3_trace, fmt):
    capsys.readouterr()
    code, out, err = cli(capsys, "export", str(c3_trace), "--to", fmt)
    assert (code, err) == (0, "")
    assert pinned(out) == (GOLDEN / f"c3-mapcount.{exports.FORMATS[fmt].suffix}").read_text()


def test_a_check_run_exports_what_its_trace_file_exports(capsys, c3_trace, tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    capsys.readouterr()
    for fmt in exports.FORMATS:
        out = tmp_path / f"run.{fmt}"
        code, _, err = cli(capsys, "specs/vmsplice.py", "--policy", "mapcount", "--quiet", "--graph",
                           "--export", fmt, "--out", str(out))
        assert code == 0 and f"as {fmt} to {out}" in err
        assert out.read_text() == cli(capsys, "export", str(c3_trace), "--to", fmt)[1]


def test_export_writes_to_out(capsys, c3_trace, tmp_path):
    out = tmp_path / "c3.md"
    code, stdout, _ = cli(capsys, "export", str(c3_trace), "--to", "md", "--out", str(out))
    assert (code, stdout) == (0, "")
    assert pinned(out.read_text()) == (GOLDEN / "c3-mapcount.md").read_text()


@pytest.mark.skipif(shutil.which("dot") is None and not os.environ.get("CI"),
                    reason="Graphviz (dot) is not installed (.ci/run installs it: under CI this test runs)")
@pytest.mark.parametrize("fmt", ["dot", "dot-graph"])
def test_graphviz_renders_the_dot_export(capsys, c3_trace, tmp_path, fmt):
    source = tmp_path / "c3.dot"
    assert cli(capsys, "export", str(c3_trace), "--to", fmt, "--out", str(source))[0] == 0
    drawn = subprocess.run(["dot", "-Tsvg", str(source)], capture_output=True, text=True, check=True)
    svg = drawn.stdout
    assert "<svg" in svg and "no_leak_to_child" in svg and "pipe_read()" in svg
    assert drawn.stderr == ""  # no warning of a layout gone wrong


def _two_traces(c3_trace: Path, tmp_path: Path) -> Path:
    document = json.loads(c3_trace.read_text())
    second = dict(document["traces"][0], policy="other")
    document["traces"].append(second)
    path = tmp_path / "two.json"
    path.write_text(json.dumps(document))
    return path


@pytest.mark.parametrize("fmt", ["mermaid", "dot"])
def test_a_diagram_of_several_traces_asks_for_one(capsys, c3_trace, tmp_path, fmt):
    two = _two_traces(c3_trace, tmp_path)
    code, out, err = cli(capsys, "export", str(two), "--to", fmt)
    assert (code, out) == (2, "") and err.count("\n") == 1 and "--trace N" in err
    code, out, _ = cli(capsys, "export", str(two), "--to", fmt, "--trace", "2")
    assert code == 0 and "under other" in out


def test_markdown_holds_every_trace(capsys, c3_trace, tmp_path):
    code, out, _ = cli(capsys, "export", str(_two_traces(c3_trace, tmp_path)), "--to", "md")
    assert code == 0 and out.startswith("# 2 counterexamples")
    assert "## C3 under mapcount" in out and "## C3 under other" in out


def test_a_trace_number_past_the_file_is_a_usage_error(capsys, c3_trace):
    code, out, err = cli(capsys, "export", str(c3_trace), "--to", "md", "--trace", "2")
    assert (code, out) == (2, "") and err.count("\n") == 1 and "holds 1 trace" in err


def test_a_file_of_no_traces(capsys, tmp_path):
    empty = tmp_path / "empty.json"
    empty.write_text(json.dumps({"schema": "modelcheck.trace/3", "modelcheck": __version__, "traces": []}))
    code, out, _ = cli(capsys, "export", str(empty), "--to", "md")
    assert code == 0 and "found no violation" in out
    code, out, err = cli(capsys, "export", str(empty), "--to", "mermaid")
    assert (code, out) == (2, "") and err.count("\n") == 1 and "no counterexample" in err


@pytest.mark.parametrize("argv, said", [
    (["export", "x.json"], "--to"),
    (["export", "x.json", "--to", "svg"], "invalid choice"),
    (["specs/vmsplice.py", "--export", "md"], "go together"),
    (["specs/vmsplice.py", "--out", "r.md"], "go together"),
    (["specs/vmsplice.py", "--export", "md", "--out", "/no/such/dir/r.md"], "existing directory"),
    (["export", "/no/such/trace.json", "--to", "md"], "no such trace file"),
])
def test_usage_errors_are_one_line(capsys, monkeypatch, argv, said):
    monkeypatch.chdir(ROOT)
    code, out, err = cli(capsys, *argv)
    assert (code, out) == (2, "") and err.count("\n") == 1 and said in err


def test_a_check_that_finds_no_violation_draws_nothing_and_keeps_its_status(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    out = tmp_path / "none.mmd"
    code, _, err = cli(capsys, "specs/vmsplice.py", "--policy", "page_count", "--quiet", "--export", "mermaid",
                       "--out", str(out))
    assert code == 0 and "no counterexample" in err and not out.exists()


STEP = {"label": "x", "changes": []}


def _trace(**fields):
    return {"spec_id": "T", "spec_as_given": "t.py", "policy": "p", "property": "prop", "params": {},
            "explanation": "", "steps": [STEP], **fields}


def test_an_old_step_without_actor_or_changes_takes_its_actor_from_its_label():
    assert exports.actor_and_action({"label": "child2 write(a1)"}) == ("child2", "write(a1)")
    assert exports.actor_and_action({"label": "reclaim"}) == ("kernel", "reclaim")
    assert exports.actor_and_action({"label": "kernel spec_get(page 0)", "actor": "kernel"}) == \
        ("kernel", "spec_get(page 0)")
    diagram = exports.render("mermaid", [_trace(steps=[{"label": "kernel spec_get(page 0)"}, {"label": "parent fork()"}])])
    assert "    Note over k: 1. spec_get(page 0)" in diagram and "    a0->>k: 2. fork()" in diagram
    assert "participant a0 as parent" in diagram and "kernel as" not in diagram


def test_what_a_spec_writes_cannot_break_out_of_the_formats():
    nasty = 'a "quoted" \\ back; #hash `tick` *star*\nnewline'
    trace = _trace(explanation=nasty, steps=[{"label": "parent " + nasty, "changes": [nasty]}])
    diagram = exports.render("mermaid", [trace])
    assert ";" not in diagram.replace("#59;", "").replace("#35;", "") and "\nnewline" not in diagram
    graph = exports.render("dot", [trace])
    assert 'a \\"quoted\\" \\\\ back' in graph and "\nnewline" not in graph
    report = exports.render("md", [trace])
    assert "1. ``parent a \"quoted\" \\ back; #hash `tick` *star* newline``" in report
    assert "> a \"quoted\" \\\\ back; #hash \\`tick\\` \\*star\\* newline" in report


def _viewer_data(page: str) -> list:
    """The traces an html export embeds (the JSON of its data element)."""
    start = page.index('<script type="application/json" id="traces">') + len('<script type="application/json" id="traces">')
    return json.loads(page[start:page.index("</script>", start)])


def test_the_html_viewer_holds_every_trace_with_a_selector(capsys, c3_trace, tmp_path):
    code, page, _ = cli(capsys, "export", str(_two_traces(c3_trace, tmp_path)), "--to", "html")
    assert code == 0 and page.count("<html") == 1 and page.count('<select id="trace">') == 1
    assert '<option value="2">2. C3 under other: no_leak_to_child violated at step 5</option>' in page
    data = _viewer_data(page)
    assert [t["policy"] for t in data] == ["mapcount", "other"]
    assert [t["verdict_line"] for t in data] == [
        "C3 under mapcount: no_leak_to_child violated at step 5", "C3 under other: no_leak_to_child violated at step 5"]
    one = cli(capsys, "export", str(c3_trace), "--to", "html")[1]
    assert "<select" not in one and len(_viewer_data(one)) == 1


def test_the_html_viewer_needs_no_network_and_is_the_same_each_time(c3_trace):
    traces = json.loads(c3_trace.read_text())["traces"]
    page = exports.render("html", traces)
    assert page == exports.render("html", json.loads(c3_trace.read_text())["traces"])
    assert not any(ref in page for ref in ("http:", "https:", "//cdn", " src=", "<link", "@import", "url("))
    assert not {"spec", "spec_sha256"} & set(_viewer_data(page)[0])  # the same page wherever it is written


def test_what_a_spec_writes_stays_text_in_the_html_viewer():
    nasty = 'parent </script><b>bold</b> <!-- & "q" \u2028'
    trace = _trace(title=nasty, explanation=nasty, steps=[{"label": nasty, "changes": [nasty], "state": {nasty: nasty}}],
                   initial_state={nasty: 0}, verdicts=[{"policy": nasty, "verdict": "violated", "expected": None}])
    page = exports.render("html", [trace, dict(trace, policy=nasty)])
    assert page.count("</script>") == 2 and "<b>" not in page and "<!--" not in page and "\u2028" not in page
    assert "&lt;/script&gt;&lt;b&gt;bold" in page  # in the <title> and the trace selector, as text
    data = _viewer_data(page)
    assert data[0]["steps"][0]["label"] == nasty and data[1]["policy"] == nasty
    assert data[0]["steps"][0]["actor"] == "parent"


def test_the_html_viewer_carries_verdicts_and_decisions_where_the_trace_has_them(c3_trace):
    trace = json.loads(c3_trace.read_text())["traces"][0]
    assert trace["verdicts"] and trace["decisions"]  # a real run writes them; an older trace lacks them
    trace = {name: value for name, value in trace.items() if name not in ("verdicts", "decisions")}
    verdicts = [{"policy": "mapcount", "verdict": "violated", "expected": "violated"}]
    decisions = [{"step": 4, "decision": "write_fault", "deciding": True, "words": "step 4: reused page 0"}]
    data = _viewer_data(exports.render("html", [dict(trace, verdicts=verdicts, decisions=decisions)]))[0]
    assert (data["verdicts"], data["decisions"]) == (verdicts, decisions)
    assert "verdicts" not in _viewer_data(exports.render("html", [trace]))[0]


def test_an_html_export_of_no_traces_says_the_run_found_no_violation():
    page = exports.render("html", [])
    assert "<h1>No counterexample</h1>" in page and "<script" not in page
