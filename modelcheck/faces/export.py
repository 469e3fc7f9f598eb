"""JSON documents: the result of a run and counterexample trace files.

Both are versioned; scripts and CI read these names, so they only ever grow.
See docs/json.md for the schemas.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

from modelcheck import __version__
from modelcheck.engine import Trace
from modelcheck.faces.text import is_timing
from modelcheck.runner import PolicyRun
from modelcheck.spec import LoadedSpec

RESULT_SCHEMA = "modelcheck.result/1"
TRACE_SCHEMA = "modelcheck.trace/2"
OLD_TRACE_SCHEMA = "modelcheck.trace/1"  # read where it can be: no parameters of the run


class TraceFileError(Exception):
    """A file that is not a modelcheck trace file (a usage error)."""


def trace_json(trace: Trace) -> list[dict[str, Any]]:
    return [step.to_json() for step in trace.steps]


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
        "figures": dict(r.figures),
        "notes": list(r.notes),
        "model_stats": {name: value for name, value in r.model_figures.items()
                        if timing or not is_timing(name)},
        "covered": list(r.covered),
        "not_covered": list(r.not_covered),
        "missing_coverage": list(run.missing_coverage),
        "counts": dict(r.counts),
        "incomplete_reason": r.incomplete_reason,
        "violations": [{"property": v.property, "count": v.count, "explanation": v.trace.explanation,
                        "length": len(v.trace)} for v in r.violations],
        "violation": None if trace is None else {"property": trace.property,
                                                 "explanation": trace.explanation},
        "counterexample_length": None if trace is None else len(trace),
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


def trace_document(loaded: LoadedSpec, runs: Sequence[PolicyRun]) -> dict[str, Any]:
    """Every counterexample of the runs, with what is needed to replay it."""
    traces = []
    for run in runs:
        for violation in run.result.violations:
            trace = violation.trace
            traces.append({
                "spec": loaded.path,
                "spec_id": loaded.spec.id,
                "params": loaded.params,
                "variants": list(run.variants),
                "policy": run.policy,
                "invariants": list(run.invariants),
                "search": run.result.strategy,
                "reductions": list(run.result.reductions),
                "property": trace.property,
                "explanation": trace.explanation,
                "initial_state": trace.initial_state,
                "parameters": dict(trace.parameters),
                "steps": trace_json(trace),
            })
    return {"schema": TRACE_SCHEMA, "modelcheck": __version__, "traces": traces}


def write_json(path: str | Path, document: dict[str, Any]) -> None:
    Path(path).write_text(json.dumps(document, indent=2) + "\n")


_TRACE_FIELDS = {"spec": str, "params": dict, "policy": str, "invariants": list, "property": str,
                 "steps": list}


def read_trace_file(path: str | Path) -> list[dict[str, Any]]:
    """The traces of a trace file; anything else is a ``TraceFileError`` naming what is wrong."""
    path = Path(path)
    try:
        document = json.loads(path.read_text())
    except FileNotFoundError:
        raise TraceFileError(f"{path}: no such trace file") from None
    except (OSError, UnicodeDecodeError) as err:
        raise TraceFileError(f"{path}: cannot be read: {err}") from None
    except json.JSONDecodeError as err:
        raise TraceFileError(f"{path}: not JSON (line {err.lineno}: {err.msg})") from None
    if not isinstance(document, dict) or document.get("schema") not in (TRACE_SCHEMA, OLD_TRACE_SCHEMA):
        raise TraceFileError(f"{path}: not a modelcheck trace file (expected schema {TRACE_SCHEMA!r})")
    traces = document.get("traces")
    if not isinstance(traces, list) or not traces:
        raise TraceFileError(f"{path}: holds no traces")
    for n, trace in enumerate(traces, start=1):
        if not isinstance(trace, dict):
            raise TraceFileError(f"{path}: trace {n} is not an object")
        for name, kind in _TRACE_FIELDS.items():
            if not isinstance(trace.get(name), kind):
                raise TraceFileError(f"{path}: trace {n} lacks {name!r} ({kind.__name__})")
        for m, step in enumerate(trace["steps"], start=1):
            if not isinstance(step, dict) or not isinstance(step.get("label"), str):
                raise TraceFileError(f"{path}: trace {n} step {m} has no label")
        if document["schema"] == OLD_TRACE_SCHEMA:
            if trace.get("parameters"):
                raise TraceFileError(f"{path}: trace {n} is in the old format {OLD_TRACE_SCHEMA!r}, whose parameters "
                                     "name state slots, which a later layout may have moved: find it again")
            trace["variants"] = ["symbolic"] if trace.pop("symbolic_refs", False) else []
        if not isinstance(trace.get("variants", []), list) or not isinstance(trace.get("parameters", {}), dict):
            raise TraceFileError(f"{path}: trace {n} has malformed variants or parameters")
    return traces
