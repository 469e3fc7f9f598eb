"""Trace files: replay is safe by default (it runs no spec the user did not name), robust to moved,
changed, empty, malformed, huge or deeply nested files, and says what is wrong in one line.

First the defects found by hand (each failed before its fix), then a Hypothesis suite of broken trace
files.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import copy
import tempfile

import pytest
from hypothesis import strategies as st

from inputs import PROFILES, Outcome, assert_usage_error, run, run_suite

ROOT = Path(__file__).resolve().parents[1]
C1 = ROOT / "specs" / "c1_basic_cow.py"
VMSPLICE = ROOT / "specs" / "vmsplice.py"
MAX_TRACE_BYTES = 256 * 2**20  # docs/json.md


def spec_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def c1_trace(steps: list[str], **fields: Any) -> dict[str, Any]:
    """A version 3 trace file of spec C1 (its hash right) with the given step labels."""
    trace = {"spec": str(C1), "spec_as_given": str(C1), "spec_sha256": spec_sha256(C1), "spec_id": "C1",
             "params": {}, "variants": [], "policy": "mapcount", "invariants": ["no_leak_to_child"],
             "property": "no_leak_to_child", "parameters": {}, "steps": [{"label": label} for label in steps]}
    trace.update(fields)
    return {"schema": "modelcheck.trace/3", "modelcheck": "0.1.0", "traces": [trace]}


def write(path: Path, document: Any) -> str:
    path.write_text(document if isinstance(document, str) else json.dumps(document))
    return str(path)


def test_a_trace_replays_from_another_directory_and_after_moving_with_its_spec(tmp_path, monkeypatch):
    work = tmp_path / "checkout"
    (work / "specs").mkdir(parents=True)
    (work / "out").mkdir()
    shutil.copy(VMSPLICE, work / "specs" / "c3.py")
    monkeypatch.chdir(work)
    assert run("specs/c3.py", "--quiet", "--policy", "mapcount", "--trace-out", "out/traces.json").code == 0
    recorded = json.loads((work / "out" / "traces.json").read_text())["traces"][0]
    assert recorded["spec"] == "../specs/c3.py" and recorded["spec_as_given"] == "specs/c3.py"
    assert recorded["spec_sha256"] == spec_sha256(VMSPLICE)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    outcome = run("replay", "../checkout/out/traces.json", "--trust-spec", "--quiet")
    assert outcome.code == 0 and "replays; no_leak_to_child violated at step 5" in outcome.out, outcome.describe()
    shutil.move(work, tmp_path / "moved")  # the pair moves together
    outcome = run("replay", str(tmp_path / "moved" / "out" / "traces.json"), "--trust-spec", "--quiet")
    assert outcome.code == 0 and "replays" in outcome.out, outcome.describe()


def test_replay_runs_no_spec_unless_told(tmp_path):
    """A trace names a Python file; replay runs it only when the user names it or trusts the trace."""
    marker = tmp_path / "ran"
    evil = tmp_path / "evil.py"
    evil.write_text(f"open({str(marker)!r}, 'w').close()\n")
    document = c1_trace(["parent fork"], spec="evil.py", spec_as_given="evil.py")
    traces = write(tmp_path / "traces.json", document)
    assert_usage_error(run("replay", traces), f"modelcheck: {traces}: replay runs the spec's Python code: pass "
                                              "--spec FILE (the trace was written from evil.py), or --trust-spec")
    assert not marker.exists()
    # trusted, but the file is not the one the trace was found in (the hash is C1's): refused before it runs
    assert_usage_error(run("replay", traces, "--trust-spec"), f"modelcheck: {evil}: not the spec trace 1 of "
                                                              f"{traces} was found in (its sha256 differs")
    assert not marker.exists()


def test_replay_refuses_a_spec_that_changed(tmp_path):
    spec = tmp_path / "c3.py"
    shutil.copy(VMSPLICE, spec)
    traces = str(tmp_path / "traces.json")
    assert run(str(spec), "--quiet", "--policy", "mapcount", "--trace-out", traces).code == 0
    assert run("replay", traces, "--trust-spec", "--quiet").code == 0
    assert run("replay", traces, "--spec", str(spec), "--quiet").code == 0
    spec.write_text(spec.read_text() + "# edited\n")
    for how in (["--trust-spec"], ["--spec", str(spec)]):
        assert_usage_error(run("replay", traces, *how), f"{spec}: not the spec trace 1", "sha256 differs")
    assert_usage_error(run("replay", traces, "--spec", str(C1)), f"{C1}: not the spec trace 1")
    assert_usage_error(run("replay", traces, "--spec", str(tmp_path / "gone.py")), "gone.py: no such spec file")
    spec.unlink()
    assert_usage_error(run("replay", traces, "--trust-spec"), f"trace 1 names the spec {spec}, which is not there")


def test_a_run_without_violation_writes_a_trace_file_that_replays_as_nothing(tmp_path):
    traces = str(tmp_path / "traces.json")
    outcome = run(str(C1), "--quiet", "--trace-out", traces)
    assert outcome.code == 0 and "wrote 0 trace(s)" in outcome.err
    outcome = run("replay", traces)
    assert (outcome.code, outcome.err) == (0, "") and "nothing to replay" in outcome.out, outcome.describe()


def test_version_2_files_replay_with_the_spec_named(tmp_path):
    traces = tmp_path / "traces.json"
    assert run(str(VMSPLICE), "--quiet", "--policy", "mapcount", "--trace-out", str(traces)).code == 0
    document = json.loads(traces.read_text())
    document["schema"] = "modelcheck.trace/2"
    for trace in document["traces"]:
        trace["spec"] = trace.pop("spec_as_given")
        del trace["spec_sha256"]
    write(traces, document)
    assert_usage_error(run("replay", str(traces), "--trust-spec"),
                       "a modelcheck.trace/2 file records no hash of its spec", "pass --spec FILE")
    outcome = run("replay", str(traces), "--spec", str(VMSPLICE), "--quiet")
    assert outcome.code == 0 and "replays" in outcome.out, outcome.describe()
    assert_usage_error(run("replay", str(traces), "--spec", str(VMSPLICE), "--trust-spec"), "not allowed with")


def test_a_trace_that_no_longer_violates_its_property_does_not_replay_in_one_line(tmp_path):
    """C1's parent forks and stores: nothing leaks to the child, and no_leak_to_child cannot explain a store
    (it used to raise ValueError out of replay)."""
    traces = write(tmp_path / "traces.json", c1_trace(["parent fork", "parent store a0"]))
    outcome = run("replay", traces, "--spec", str(C1))
    assert outcome.code == 1 and outcome.err == "", outcome.describe()
    assert outcome.out == ("trace 1 (C1 under mapcount, no_leak_to_child): does not replay: "
                           "the last step does not violate no_leak_to_child\n")


@pytest.mark.parametrize("edit, needle", [
    (lambda t: t.update(parameters={"references held outside on a0": "lots"}),
     "traces[0].parameters[\"references held outside on a0\"]: 'lots' is not of type 'integer'"),
    (lambda t: t.update(parameters={"n": 2.0}), "traces[0].parameters.n: 2.0 is not of type 'integer'"),
    (lambda t: t.update(parameters=[1]), "traces[0].parameters: [1] is not of type 'object'"),
    (lambda t: t.update(params={"P": [2]}), "traces[0].params.P: [2] is not valid under any of the given schemas"),
    (lambda t: t["steps"][1].update(label=3), "traces[0].steps[1].label: 3 is not of type 'string'"),
    (lambda t: t.update(steps=[]), "traces[0].steps: [] should be non-empty"),
    (lambda t: t.pop("spec_sha256"), "traces[0]: 'spec_sha256' is a required property"),
    (lambda t: t.update(spec_sha256="abc"), "traces[0].spec_sha256: 'abc' does not match"),
    (lambda t: t.update(invariants="no_leak_to_child"),
     "traces[0].invariants: 'no_leak_to_child' is not of type 'array'"),
])
def test_malformed_traces_name_the_json_path(tmp_path, edit, needle):
    document = c1_trace(["parent fork", "child1 load a0"])
    edit(document["traces"][0])
    traces = write(tmp_path / "traces.json", document)
    assert_usage_error(run("replay", traces, "--spec", str(C1)), f"modelcheck: {traces}: {needle}")


@pytest.mark.parametrize("content, needle", [
    ("[" * 100_000, "JSON nested too deeply to be a trace file"),
    ('{"schema": "modelcheck.trace/3", "traces": [{"initial_state": ' + "[" * 5_000 + "]" * 5_000 + "}]}",
     "JSON nested too deeply to be a trace file"),
    ('{"schema": "modelcheck.trace/3", "traces": [' + "9" * 5_000 + "]}", "not JSON modelcheck can read"),
    (b"\xff\xfe{}", "not UTF-8 text (byte 0)"),
    ('{"schema": "modelcheck.trace/9", "traces": []}', "not a modelcheck trace file (expected schema "
                                                       "'modelcheck.trace/3', not 'modelcheck.trace/9')"),
    ('{"schema": "modelcheck.trace/3"}', "the document: 'modelcheck' is a required property"),
    ('{"schema": [], "traces": []}', "not a modelcheck trace file (expected schema 'modelcheck.trace/3')"),
])
def test_unreadable_trace_files_are_one_line(tmp_path, content, needle):
    path = tmp_path / "traces.json"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    assert_usage_error(run("replay", str(path)), f"modelcheck: {path}: {needle}")


def test_a_huge_trace_file_is_refused_without_reading_it(tmp_path):
    path = tmp_path / "huge.json"
    with path.open("wb") as handle:  # sparse: no disk is used
        handle.truncate(MAX_TRACE_BYTES + 1)
    assert_usage_error(run("replay", str(path)), f"modelcheck: {path}: 268,435,457 bytes, more than a trace file "
                                                 "may be (256 MiB)")


def test_a_directory_is_not_a_trace_file(tmp_path):
    assert_usage_error(run("replay", str(tmp_path)), f"modelcheck: {tmp_path}: not a regular file")


def test_the_real_entry_point_refuses_a_deeply_nested_trace_in_one_line(tmp_path):
    path = tmp_path / "deep.json"
    path.write_text("[" * 100_000)
    proc = subprocess.run([sys.executable, "-m", "modelcheck", "replay", str(path)], capture_output=True, text=True,
                          cwd=ROOT)
    assert (proc.returncode, proc.stdout) == (2, "") and proc.stderr.count("\n") == 1, proc.stderr
    assert "nested too deeply" in proc.stderr and "Traceback" not in proc.stderr


def test_docs_publish_the_schema_the_package_validates_against():
    from modelcheck.faces.export import trace_schema

    text = (ROOT / "docs" / "json.md").read_text()
    block = text.split("<!-- schema: modelcheck/faces/schemas/trace-3.json -->\n```json\n", 1)[1].split("```", 1)[0]
    assert json.loads(block) == trace_schema() == json.loads(
        (ROOT / "modelcheck" / "faces" / "schemas" / "trace-3.json").read_text())


def test_the_schemas_are_valid_json_schemas():
    from jsonschema import Draft202012Validator

    from modelcheck.faces.export import trace_schema

    for name in ("modelcheck.trace/3", "modelcheck.trace/2", "modelcheck.trace/1"):
        Draft202012Validator.check_schema(trace_schema(name))



# -- the Hypothesis suite: a good trace file broken in every way -----------------------------------------------

@pytest.fixture(scope="module")
def good_trace(tmp_path_factory) -> dict[str, Any]:
    """A trace file of C3 under mapcount (its spec beside it), as a document to break."""
    where = tmp_path_factory.mktemp("good")
    shutil.copy(VMSPLICE, where / "c3.py")
    assert run(str(where / "c3.py"), "--quiet", "--policy", "mapcount", "--trace-out", str(where / "t.json")).code == 0
    document: dict[str, Any] = json.loads((where / "t.json").read_text())
    assert len(document["traces"]) == 1 and len(document["traces"][0]["steps"]) == 5
    return document


JSON_VALUES = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                                       max_size=3), max_leaves=6)
# where a trace file must hold a value of one JSON type, and which
TYPED = {("schema",): str, ("traces",): list, ("traces", 0): dict, ("traces", 0, "spec"): str,
         ("traces", 0, "spec_as_given"): str, ("traces", 0, "spec_sha256"): str, ("traces", 0, "params"): dict,
         ("traces", 0, "variants"): list, ("traces", 0, "policy"): str, ("traces", 0, "invariants"): list,
         ("traces", 0, "property"): str, ("traces", 0, "parameters"): dict, ("traces", 0, "steps"): list,
         **{("traces", 0, "steps", n): dict for n in range(5)},
         **{("traces", 0, "steps", n, "label"): str for n in range(5)}}
REQUIRED = [path for path in TYPED if isinstance(path[-1], str) and path != ("schema",)]
KINDS = {str: str, list: list, dict: dict}


def _at(document: Any, path: tuple) -> tuple[Any, Any]:
    parent = document
    for key in path[:-1]:
        parent = parent[key]
    return parent, path[-1]


@st.composite
def broken_traces(draw: st.DrawFn, good: dict[str, Any]) -> tuple[str, bytes, int]:
    """(what was broken, the file's bytes, the exit status replay --trust-spec must give): 2 for a file that is
    not a trace file, 1 for a well-formed trace whose steps do not replay."""
    document = copy.deepcopy(good)
    how = draw(st.sampled_from(["truncate", "version", "wrong type", "missing field", "deep", "not UTF-8",
                                "label", "drop steps", "unknown names", "bad hash"]))
    if how == "truncate":
        text = json.dumps(document, indent=draw(st.sampled_from([None, 2])))
        return how, text[:draw(st.integers(0, len(text) - 1))].encode(), 2
    if how == "version":
        document["schema"] = draw(st.one_of(st.sampled_from(["modelcheck.trace/4", "modelcheck.trace/0",
                                                             "modelcheck.result/1", "", "modelcheck.trace/3 "]),
                                            JSON_VALUES.filter(lambda v: v not in ("modelcheck.trace/3",
                                                                                   "modelcheck.trace/2",
                                                                                   "modelcheck.trace/1"))))
        if draw(st.booleans()):
            document = draw(st.sampled_from([[document], "modelcheck.trace/3", None, 3]))
    elif how == "wrong type":
        path = draw(st.sampled_from(sorted(TYPED, key=repr)))
        parent, key = _at(document, path)
        parent[key] = draw(JSON_VALUES.filter(lambda v: not isinstance(v, KINDS[TYPED[path]])))
    elif how == "missing field":
        parent, key = _at(document, draw(st.sampled_from(sorted(REQUIRED, key=repr))))
        del parent[key]
    elif how == "deep":  # deeper than the parser goes, or deep where a string or a mapping must be
        depth = draw(st.integers(5, 200_000))
        path = draw(st.sampled_from([("traces", 0, "steps", 0, "label"), ("traces", 0, "params"), ("traces", 0, "spec")]))
        parent, key = _at(document, path)
        parent[key] = "<deep>"
        text = json.dumps(document).replace('"<deep>"', "[" * depth + "]" * depth)
        return how, text.encode(), 2
    elif how == "not UTF-8":
        data = json.dumps(document).encode()
        at = draw(st.integers(0, len(data)))
        return how, data[:at] + draw(st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80"])) + data[at:], 2
    elif how == "label":  # a step no action of the model has there
        steps = document["traces"][0]["steps"]
        n = draw(st.integers(0, len(steps) - 1))
        steps[n]["label"] = draw(st.one_of(st.text(min_size=1, max_size=20), st.sampled_from(
            [s["label"] for s in steps] + ["parent fork()", "child2 write(a0)", "kernel spec_get(0)"])).filter(
                lambda label: label != steps[n]["label"]))
        steps[n]["state"] = None
        return how, json.dumps(document).encode(), 1
    elif how == "drop steps":  # a prefix of the trace: its last step no longer violates the property
        steps = document["traces"][0]["steps"]
        del steps[draw(st.integers(1, len(steps) - 1)):]
        return how, json.dumps(document).encode(), 1
    elif how == "unknown names":
        field = draw(st.sampled_from(["policy", "invariants", "variants", "params"]))
        name = draw(st.text(min_size=1, max_size=12).filter(str.isidentifier))
        document["traces"][0][field] = {"policy": name + "_x", "invariants": [name + "_x"],
                                        "variants": [name + "_x"], "params": {name: 1}}[field]
    else:  # how == "bad hash"
        document["traces"][0]["spec_sha256"] = draw(st.text("0123456789abcdef", min_size=64, max_size=64).filter(
            lambda h: h != good["traces"][0]["spec_sha256"]))
    return how, json.dumps(document).encode(), 2


def _judge(outcome: Outcome, status: int) -> None:
    if status == 2:
        assert_usage_error(outcome)
    else:  # the documented status of a trace that does not replay: one line on stdout, nothing on stderr
        assert outcome.code == 1 and outcome.err == "", outcome.describe()
        assert outcome.out.count("\n") == 1 and ": does not replay: " in outcome.out, outcome.describe()
        assert "Traceback" not in outcome.out, outcome.describe()


@pytest.mark.parametrize("profile_name", PROFILES)
def test_generated_broken_trace_files(profile_name, good_trace):
    spec_text = VMSPLICE.read_text()

    def check(case: tuple[str, bytes, int]) -> None:
        _, data, status = case
        with tempfile.TemporaryDirectory() as where:
            (Path(where) / "c3.py").write_text(spec_text)
            (Path(where) / "t.json").write_bytes(data)
            _judge(run("replay", str(Path(where) / "t.json"), "--trust-spec", "--quiet"), status)

    run_suite(profile_name, broken_traces(good_trace), check)


@st.composite
def misplaced_traces(draw: st.DrawFn) -> tuple[str, int]:
    """A good trace file whose spec moved away, changed, or is another; or a file too big to be a trace file."""
    return draw(st.sampled_from(["moved", "changed", "other spec", "huge", "directory", "no file"])), \
        draw(st.integers(1, 2**30))


@pytest.mark.parametrize("profile_name", PROFILES)
def test_generated_misplaced_trace_files(profile_name, good_trace):
    spec_text = VMSPLICE.read_text()

    def check(case: tuple[str, int]) -> None:
        how, size = case
        with tempfile.TemporaryDirectory() as where:
            trace, spec = Path(where) / "t.json", Path(where) / "c3.py"
            trace.write_text(json.dumps(good_trace))
            spec.write_text(spec_text)
            argv = ["replay", str(trace), "--trust-spec"]
            if how == "moved":
                spec.rename(Path(where) / f"moved{size}.py")
            elif how == "changed":
                spec.write_text(spec_text + "#" * (size % 50) + "\n")
            elif how == "other spec":
                argv = ["replay", str(trace), "--spec", str(C1 if size % 2 else ROOT / "specs" / "reference.py")]
            elif how == "huge":
                with trace.open("wb") as handle:
                    handle.truncate(MAX_TRACE_BYTES + size)
            elif how == "directory":
                trace.unlink()
                trace.mkdir()
            else:
                trace.unlink()
            assert_usage_error(run(*argv))

    run_suite(profile_name, misplaced_traces(), check)
