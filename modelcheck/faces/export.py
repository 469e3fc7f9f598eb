"""JSON documents: the result of a run and counterexample trace files.

Both are versioned; scripts and CI read these names, so they only ever grow.
See docs/json.md for the schemas.
"""

from __future__ import annotations

import json
import os
import stat
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Sequence

from modelcheck import __version__
from modelcheck.engine import Trace, graph_record
from modelcheck.faces.text import is_timing
from modelcheck.runner import PolicyRun, policy_catalogue
from modelcheck.spec import LoadedSpec, world_settings

RESULT_SCHEMA = "modelcheck.result/1"
TRACE_SCHEMA = "modelcheck.trace/3"
OLD_TRACE_SCHEMAS = ("modelcheck.trace/2", "modelcheck.trace/1")  # read where they can be: no hash of the spec
MAX_TRACE_BYTES = 256 * 2**20  # a trace file past this is not one modelcheck wrote (its traces are short)
_SCHEMA_FILES = {TRACE_SCHEMA: "trace-3.json", **{name: "trace-2.json" for name in OLD_TRACE_SCHEMAS}}


class TraceFileError(Exception):
    """A file that is not a modelcheck trace file (a usage error)."""


def trace_json(trace: Trace) -> list[dict[str, Any]]:
    return [step.to_json() for step in trace.steps]


def decisions_json(trace: Trace) -> list[dict[str, Any]]:
    """The model's choices along a trace, each with what its other way does (``engine.explain``)."""
    return [decision.to_json() for decision in trace.decisions]


def verdict_row(runs: Sequence[PolicyRun]) -> list[dict[str, Any]]:
    """The spec's verdict under each policy of the run: its row of the matrix."""
    return [{"policy": run.policy, "verdict": run.result.verdict.value, "expected": run.expected} for run in runs]
def minimized_json(trace: Trace) -> dict[str, Any] | None:
    """How --minimize shrank the trace (its length as found, whether it is now a shortest one), or None."""
    return None if trace.minimized is None else trace.minimized.to_json()


def run_json(run: PolicyRun, timing: bool = True) -> dict[str, Any]:
    """One policy's run; without ``timing`` its clock readings are null, so two documents can be compared."""
    r = run.result
    trace = r.counterexample
    return {
        "policy": run.policy,
        "verdict": r.verdict.value,
        "expected": run.expected,
        "as_expected": run.as_expected,
        "states": r.stats.states,
        "transitions": r.stats.transitions,
        "depth": r.stats.depth,
        "seconds": round(r.stats.seconds, 4) if timing else None,
        "states_per_second": round(r.stats.states_per_second, 1) if timing else None,
        "search": r.strategy,
        "reductions": list(r.reductions),
        "store": r.figures.get("store", "none"),
        "store_bytes": r.figures.get("store_bytes", 0),
        "workers": r.figures.get("workers", 1),
        "miss_probability": r.figures.get("miss_probability"),
        "batched": r.figures.get("batched", False),
        "figures": {name: value for name, value in r.figures.items() if timing or not is_timing(name)},
        "notes": list(r.notes),
        "model_stats": {name: value for name, value in r.model_figures.items()
                        if timing or not is_timing(name)},
        "covered": list(r.covered),
        "not_covered": list(r.not_covered),
        "missing_coverage": list(run.missing_coverage),
        "counts": dict(r.counts),
        "incomplete_reason": r.incomplete_reason,
        "violations": [{"property": v.property, "count": v.count, "explanation": v.trace.explanation,
                        "length": len(v.trace), "decisions": decisions_json(v.trace),
                        "minimized": minimized_json(v.trace)} for v in r.violations],
        "violation": None if trace is None else {"property": trace.property,
                                                 "explanation": trace.explanation,
                                                 "culprit": None if trace.culprit is None else trace.culprit.to_json(),
                                                 "decisions": decisions_json(trace)},
        "counterexample_length": None if trace is None else len(trace),
        "counterexample_minimized": None if trace is None else minimized_json(trace),
        "counterexample": None if trace is None else trace_json(trace),
    }


def result_document(loaded: LoadedSpec, runs: Sequence[PolicyRun], stop_at_first: bool,
                    timing: bool = True) -> dict[str, Any]:
    return {
        "schema": RESULT_SCHEMA,
        "modelcheck": __version__,
        "spec": loaded.path,
        "spec_id": loaded.spec.id,
        "title": loaded.spec.title,
        "world": loaded.world.describe(),
        "params": loaded.params,
        "invariants": list(loaded.spec.invariants),
        "stop_at_first": stop_at_first,
        "timing": timing,
        "results": [run_json(run, timing) for run in runs],
    }


def trace_document(loaded: LoadedSpec, runs: Sequence[PolicyRun], trace_file: str | Path) -> dict[str, Any]:
    """Every counterexample of the runs, with what is needed to replay it: the spec relative to
    ``trace_file`` (so the pair can move together), as given, and the sha256 of its content."""
    spec = os.path.relpath(os.path.abspath(loaded.path), os.path.dirname(os.path.abspath(trace_file)))
    rules = {entry["name"]: {"release": entry["release"], "commits": entry["commits"], "rule": entry["rule"]}
             for entry in policy_catalogue()}
    traces = []
    for run in runs:
        for violation in run.result.violations:
            trace = violation.trace
            traces.append({
                "spec": Path(spec).as_posix(),
                "spec_as_given": loaded.path,
                "spec_sha256": loaded.sha256,
                "spec_id": loaded.spec.id,
                "title": loaded.spec.title,
                "params": loaded.params,
                "variants": list(run.variants),
                "world_settings": world_settings(loaded.world),
                "policy": run.policy,
                "policy_rule": rules.get(run.policy),
                "invariants": list(run.invariants),
                "search": run.result.strategy,
                "reductions": list(run.result.reductions),
                "property": trace.property,
                "explanation": trace.explanation,
                "initial_state": trace.initial_state,
                "parameters": dict(trace.parameters),
                "steps": trace_json(trace),
                "decisions": decisions_json(trace),
                "verdicts": verdict_row(runs),
            })
            if trace.minimized is not None:
                traces[-1]["minimized"] = trace.minimized.to_json()
            if run.graph is not None:
                traces[-1]["graph"] = graph_record(run.graph, trace)
    return {"schema": TRACE_SCHEMA, "modelcheck": __version__, "traces": traces}


def write_json(path: str | Path, document: dict[str, Any]) -> None:
    Path(path).write_text(json.dumps(document, indent=2) + "\n")


def trace_schema(name: str = TRACE_SCHEMA) -> dict[str, Any]:
    """The JSON Schema of a trace file format (the package's copy; docs/json.md publishes the current one)."""
    text = resources.files("modelcheck.faces").joinpath("schemas", _SCHEMA_FILES[name]).read_text()
    schema: dict[str, Any] = json.loads(text)
    return schema


@dataclass(frozen=True)
class TraceFile:
    """A trace file as read: its format and its traces (old formats brought to the current shape)."""

    path: Path
    schema: str
    traces: list[dict[str, Any]]

    @property
    def records_hashes(self) -> bool:
        """Whether its traces say which spec content they were found in (version 3 on)."""
        return self.schema == TRACE_SCHEMA


def _strict_integers() -> Any:
    """Draft 2020-12 with integers that are ints: JSON Schema counts 2.0 as an integer, a count is not.
    (jsonschema is imported here, when a trace file is read, not by every run.)"""
    from jsonschema import Draft202012Validator, validators

    checker = Draft202012Validator.TYPE_CHECKER.redefine(
        "integer", lambda _, value: isinstance(value, int) and not isinstance(value, bool))
    return validators.extend(Draft202012Validator, type_checker=checker)


def json_path(parts: Sequence[Any]) -> str:
    """``traces[0].steps[2].label`` for the path [traces, 0, steps, 2, label]."""
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif isinstance(part, str) and part.isidentifier():
            out += f".{part}" if out else part
        else:
            out += f"[{json.dumps(part)}]"
    return out or "the document"


def _one_line(text: str, width: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[:width - 3] + "..."


def read_json_file(path: Path, kind: str = "trace file", most_bytes: int = MAX_TRACE_BYTES,
                   error: type[Exception] = TraceFileError) -> Any:
    """The file's JSON value; a missing, special, huge, undecodable or too deeply nested file is an ``error``
    in one line naming it as the ``kind`` of file it should be (json.loads raises RecursionError on deep
    nesting, ValueError on a huge integer)."""
    try:
        status = path.stat()
        if not stat.S_ISREG(status.st_mode):
            raise error(f"{path}: not a regular file")
        if status.st_size > most_bytes:
            raise error(f"{path}: {status.st_size:,} bytes, more than a {kind} may be ({most_bytes // 2**20} MiB)")
        with path.open("rb") as handle:
            data = handle.read(most_bytes + 1)
    except FileNotFoundError:
        raise error(f"{path}: no such {kind}") from None
    except OSError as err:
        raise error(f"{path}: cannot be read: {err.strerror}") from None
    if len(data) > most_bytes:  # it grew since stat
        raise error(f"{path}: more than a {kind} may be ({most_bytes // 2**20} MiB)")
    try:
        return json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as err:
        raise error(f"{path}: not UTF-8 text (byte {err.start})") from None
    except json.JSONDecodeError as err:
        raise error(f"{path}: not JSON (line {err.lineno}: {err.msg})") from None
    except RecursionError:
        raise error(f"{path}: JSON nested too deeply to be a {kind}") from None
    except ValueError as err:  # e.g. an integer of more digits than Python converts
        raise error(f"{path}: not JSON modelcheck can read: {_one_line(str(err))}") from None


def schema_error(document: Any, schema: dict[str, Any], path: Path, kind: str = "trace file") -> str | None:
    """The line that says where ``document`` breaks ``schema`` and how (None when it does not), with
    integers that are ints and a deeply nested document or value said, not raised."""
    from jsonschema.exceptions import best_match

    try:
        error = best_match(_strict_integers()(schema).iter_errors(document))
    except RecursionError:
        return f"{path}: JSON nested too deeply to be a {kind}"
    if error is None:
        return None
    try:
        message = _one_line(error.message)
    except RecursionError:  # the message shows a deeply nested value
        message = "nested too deeply"
    return f"{path}: {json_path(list(error.absolute_path))}: {message}"


def read_trace_file(path: str | Path) -> TraceFile:
    """The traces of a trace file, checked against its format's JSON Schema; anything else is a
    ``TraceFileError`` naming the file, the JSON path and what is wrong there, in one line."""
    path = Path(path)
    document = read_json_file(path)
    name = document.get("schema") if isinstance(document, dict) else None
    if not isinstance(name, str) or name not in _SCHEMA_FILES:  # (a list is no key of a dict)
        raise TraceFileError(f"{path}: not a modelcheck trace file (expected schema {TRACE_SCHEMA!r}"
                             + (f", not {_one_line(repr(name), 60)})" if isinstance(name, str) else ")"))
    wrong = schema_error(document, trace_schema(name), path)
    if wrong is not None:
        raise TraceFileError(wrong)
    traces: list[dict[str, Any]] = document["traces"]
    if name == "modelcheck.trace/1":
        for n, trace in enumerate(traces):
            if trace.get("parameters"):
                raise TraceFileError(f"{path}: traces[{n}] is in the old format {name!r}, whose parameters name "
                                     "state slots, which a later layout may have moved: find it again")
            trace["variants"] = ["symbolic"] if trace.pop("symbolic_refs", False) else []
    for trace in traces:
        trace.setdefault("variants", [])
        trace.setdefault("parameters", {})
    return TraceFile(path=path, schema=name, traces=traces)
