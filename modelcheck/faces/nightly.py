"""The nightly record and the four ways it is read: JSON, a Markdown summary, JUnit XML and TAP (kselftest style).

``python -m modelcheck nightly`` climbs every spec's bound ladder under every
policy within a budget (``modelcheck.nightly``), then writes here, into its
output directory, each file by a temporary file and a rename (a reader or a
crash sees the old file or the new one): ``latest.json`` (the record,
``modelcheck.nightly/1``, docs/nightly.md), a dated copy of it in ``nights/``,
``summary.md``, ``junit.xml``, ``results.tap``, ``history.tsv`` (one line per
night per cell, appended) and ``traces/`` (tonight's counterexamples, each
replayable with ``python -m modelcheck replay FILE --spec SPEC``).

The comparison with a baseline record (by default the previous ``latest.json``)
is what the summary's first lines and the exit status say: a changed verdict
that is not a fix, or changed counts at the same bound, is a regression.
"""

from __future__ import annotations

import json
import os
import platform
import re
import resource
import socket
import subprocess
import tempfile
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path
from typing import Any, Mapping, Sequence

from modelcheck import __version__
from modelcheck.engine import SearchOptions, default_limit
from modelcheck.faces import export, text
from modelcheck.nightly import Climb
from modelcheck.runner import prepare, run_spec
from modelcheck.spec import bind, load_spec

NIGHTLY_SCHEMA = "modelcheck.nightly/1"
MAX_RECORD_BYTES = 256 * 2**20  # a record past this is not one modelcheck wrote (a cell is under a kilobyte)
SLOWER = 1.5          # a cell this many times slower at the same bound is reported
SLOWER_AT_LEAST = 0.25  # ... when it also lost this many seconds (a shared machine's noise is below it)
HISTORY_COLUMNS = ("date", "commit", "spec", "policy", "rung", "bound", "verdict", "expected", "states",
                   "transitions", "seconds")


# -- one rung of one cell, in whichever process the executor chose ------------------------------------------------

def run_cell(spec_path: str, params: dict[str, Any], policy: str, options: dict[str, Any]) -> dict[str, Any]:
    """Check ``spec_path`` at ``params`` under ``policy`` within ``options["time_limit"]`` seconds; plain data in
    and out, so that a process pool or a cluster can run it. A violation comes back with its trace file's
    document (``export.trace_document``, its spec path relative to ``options["trace_file"]``) and text."""
    search = SearchOptions(time_limit=max(float(options["time_limit"]), 0.001),
                           max_memory=int(options.get("max_memory") or default_limit()))
    loaded = prepare(bind(spec_path, load_spec(spec_path), [f"{k}={v}" for k, v in params.items()]), search)
    runs = list(run_spec(loaded, [policy], search))
    run = runs[0]
    r = run.result
    trace = r.counterexample
    trace_file = options.get("trace_file") or "trace.json"
    return {
        "verdict": r.verdict.value,
        "vacuous": bool(run.missing_coverage),
        "missing_coverage": list(run.missing_coverage),
        "expected": run.expected,
        "as_expected": run.as_expected,
        "states": r.stats.states,
        "transitions": r.stats.transitions,
        "depth": r.stats.depth,
        "seconds": round(r.stats.seconds, 4),
        "peak_memory_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "store_bytes": r.figures.get("store_bytes", 0),
        "world": loaded.world.describe(),
        "incomplete_reason": r.incomplete_reason,
        "interrupted": r.interrupted,
        "property": None if trace is None else trace.property,
        "counterexample_length": None if trace is None else len(trace),
        "trace_text": None if trace is None else text.trace_text(trace),
        "trace_document": None if trace is None else export.trace_document(loaded, runs, trace_file),
    }


# -- the record -----------------------------------------------------------------------------------------------------

def bound_text(params: dict[str, Any] | None) -> str:
    """``P=2 M=1``; a spec without parameters is checked as written."""
    if params is None:
        return "-"
    return " ".join(f"{k}={v}" for k, v in params.items()) or "as written"


def _status(cell: dict[str, Any]) -> str:
    """pass, fail, skip or error, as JUnit and TAP count them."""
    if cell["error"] is not None:
        return "error"
    if cell["rung"] == 0:
        return "skip"
    if cell["verdict"] == "vacuous" or cell["as_expected"] is False:
        return "fail"
    return "pass"


def trace_name(spec_id: str, policy: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", f"{spec_id}.{policy}") + ".trace.json"


def cell_record(climb: Climb) -> dict[str, Any]:
    """One cell of the record: its verdict at the largest rung it finished, and what it tried beyond."""
    cell, reached = climb.cell, climb.reached
    verdict = "incomplete" if reached is None else ("vacuous" if reached["vacuous"] else reached["verdict"])
    last = climb.attempts[-1] if climb.attempts else None
    cut = last if last is not None and last is not reached and last["verdict"] == "incomplete" else None
    record = {
        "spec": cell.spec,
        "spec_id": cell.spec_id,
        "title": cell.title,
        "policy": cell.policy,
        "expected": cell.expected,
        "verdict": verdict,
        "as_expected": None if reached is None else reached["as_expected"],
        "rung": climb.rung,
        "rungs": len(cell.rungs),
        "bound": None if reached is None else reached["params"],
        "world": None if reached is None else reached["world"],
        "states": None if reached is None else reached["states"],
        "transitions": None if reached is None else reached["transitions"],
        "seconds": None if reached is None else reached["seconds"],
        "peak_memory_bytes": None if reached is None else reached["peak_memory_bytes"],
        "property": None if reached is None else reached["property"],
        "counterexample_length": None if reached is None else reached["counterexample_length"],
        "counterexample": None,
        "missing_coverage": [] if reached is None else reached["missing_coverage"],
        "incomplete": None if cut is None else {"bound": cut["params"], "reason": cut["incomplete_reason"],
                                                 "states": cut["states"], "seconds": cut["seconds"]},
        "error": climb.error,
        "attempts": [{"bound": a["params"], "verdict": a["verdict"], "states": a.get("states"),
                      "seconds": a.get("seconds")} for a in climb.attempts],
        "retried": [{"bound": a["params"], "states": a.get("states"), "seconds": a.get("seconds")}
                    for a in climb.retried],
        "status": "",
    }
    if reached is not None and reached["trace_document"] is not None:
        record["counterexample"] = f"traces/{trace_name(cell.spec_id, cell.policy)}"
    record["status"] = _status(record)
    return record


def git_commit(where: Path) -> str | None:
    """The commit checked out at ``where``, or None outside a git checkout (or without git)."""
    try:
        done = subprocess.run(["git", "-C", str(where), "rev-parse", "HEAD"], capture_output=True, text=True,
                              timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    commit = done.stdout.strip()
    return commit if done.returncode == 0 and re.fullmatch(r"[0-9a-f]{40}", commit) else None


def machine() -> dict[str, Any]:
    try:
        memory: int | None = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        memory = None
    return {"hostname": socket.gethostname(), "cores": os.cpu_count(), "memory_bytes": memory,
            "python": platform.python_version()}


def record(climbs: Sequence[Climb], budget: float, command: str, executor: str,
           started: datetime, seconds: float) -> dict[str, Any]:
    """The night as one JSON document (``modelcheck.nightly/1``, docs/nightly.md)."""
    return {
        "schema": NIGHTLY_SCHEMA,
        "modelcheck": __version__,
        "commit": git_commit(Path(__file__).resolve().parents[2]),
        "date": started.isoformat(timespec="seconds"),
        "command": command,
        "budget_seconds": budget,
        "seconds": round(seconds, 2),
        "executor": executor,
        "machine": machine(),
        "cells": [cell_record(c) for c in climbs],
    }


def nightly_schema() -> dict[str, Any]:
    """The JSON Schema of the nightly record (the package's copy; docs/nightly.md describes it)."""
    schema: dict[str, Any] = json.loads(
        resources.files("modelcheck.faces").joinpath("schemas", "nightly-1.json").read_text())
    return schema


def read_record(path: Path) -> dict[str, Any]:
    """A nightly record, checked against its schema; anything else is a ``ValueError`` in one line."""
    document = export.read_json_file(path, "nightly record", MAX_RECORD_BYTES, ValueError)
    if not isinstance(document, dict) or document.get("schema") != NIGHTLY_SCHEMA:
        raise ValueError(f"{path}: not a modelcheck nightly record (expected schema {NIGHTLY_SCHEMA!r})")
    wrong = export.schema_error(document, nightly_schema(), path, "nightly record")
    if wrong is not None:
        raise ValueError(wrong)
    return document


# -- what changed since the baseline ------------------------------------------------------------------------------

@dataclass
class Changes:
    """Tonight against a baseline record: regressions fail the night (exit 1); the rest is news."""

    baseline: str | None = None
    regressions: list[str] = field(default_factory=list)  # a verdict changed, not to what history says; counts
    fixed: list[str] = field(default_factory=list)        # a verdict changed to the one history says
    slower: list[str] = field(default_factory=list)
    lower: list[str] = field(default_factory=list)        # a smaller bound reached than the baseline's
    higher: list[str] = field(default_factory=list)
    new: list[str] = field(default_factory=list)          # cells the baseline does not have


def _name(cell: dict[str, Any]) -> str:
    return f"{cell['spec_id']} under {cell['policy']}"


def compare(tonight: dict[str, Any], baseline: dict[str, Any] | None, baseline_name: str | None) -> Changes:
    changes = Changes(baseline=baseline_name)
    budget = (baseline or {}).get("budget_seconds")
    other_budget = "" if budget in (None, tonight["budget_seconds"]) else f" (its budget was {budget:g} s)"
    before = {(c["spec_id"], c["policy"]): c for c in (baseline or {}).get("cells", [])}
    for cell in tonight["cells"]:
        old = before.get((cell["spec_id"], cell["policy"]))
        name = _name(cell)
        if old is None:
            if baseline is not None:
                changes.new.append(name)
            continue
        if cell["rung"] == 0 or old["rung"] == 0:
            if cell["rung"] < old["rung"]:
                changes.lower.append(f"{name}: no bound reached (the baseline reached {bound_text(old['bound'])}"
                                     f"{other_budget})")
            continue
        if cell["verdict"] != old["verdict"]:
            line = (f"{name}: {old['verdict']} at {bound_text(old['bound'])} -> {cell['verdict']} at "
                    f"{bound_text(cell['bound'])} (expected: {cell['expected'] or 'not stated'})")
            if cell["verdict"] == "violated" and old["verdict"] == "holds":
                line += ": a new violation"
            elif old["verdict"] == "violated":
                line += ": a violation no longer found"
            (changes.fixed if cell["verdict"] == cell["expected"] else changes.regressions).append(line)
        if cell["bound"] == old["bound"]:
            if cell["verdict"] == old["verdict"] and \
                    (cell["states"], cell["transitions"]) != (old["states"], old["transitions"]):
                changes.regressions.append(
                    f"{name}: at {bound_text(cell['bound'])} {_count(old['states'])} states, "
                    f"{_count(old['transitions'])} transitions -> {_count(cell['states'])} states, "
                    f"{_count(cell['transitions'])} transitions")
            was, now = old["seconds"], cell["seconds"]
            if was and now and now > SLOWER * was and now - was >= SLOWER_AT_LEAST:
                changes.slower.append(f"{name}: {now / was:.1f}x slower at {bound_text(cell['bound'])} "
                                      f"({was:.2f} s -> {now:.2f} s)")
        elif cell["rung"] < old["rung"]:
            changes.lower.append(f"{name}: reached {bound_text(cell['bound'])}, the baseline "
                                 f"{bound_text(old['bound'])}{other_budget}")
        elif cell["rung"] > old["rung"]:
            changes.higher.append(f"{name}: reached {bound_text(cell['bound'])}, the baseline "
                                  f"{bound_text(old['bound'])}")
    return changes


def _count(n: int | None) -> str:
    """A count of a record (null where the run counted none, as a cell that failed to run)."""
    return "no" if n is None else f"{n:,}"


def failing(tonight: dict[str, Any]) -> list[str]:
    """The cells whose verdict differs from what history says (or that were vacuous, or failed to run)."""
    out = []
    for cell in tonight["cells"]:
        if cell["status"] == "error":
            out.append(f"{_name(cell)}: failed to run: {cell['error']}")
        elif cell["status"] == "fail":
            why = "vacuous (a thread never finished)" if cell["verdict"] == "vacuous" else \
                f"{cell['verdict']}, the spec states {cell['expected']}"
            out.append(f"{_name(cell)}: {why} at {bound_text(cell['bound'])}")
    return out


def exit_status(tonight: dict[str, Any], changes: Changes) -> int:
    """1: a regression, or a verdict that differs from history (new or not); 3: no cell reached any bound;
    else 0 (a cell slower, or lower on its ladder, is news, not a failure: the machine may be shared)."""
    if changes.regressions or failing(tonight):
        return 1
    if not any(cell["rung"] for cell in tonight["cells"]):
        return 3
    return 0


# -- the four files --------------------------------------------------------------------------------------------------

def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f} s"


def headline(tonight: dict[str, Any], changes: Changes) -> list[str]:
    """The summary's first lines: whether the night failed, and why (printed on stderr too)."""
    failures = failing(tonight)
    verdict = "FAIL" if changes.regressions or failures else "pass"
    head = [f"# Nightly {tonight['date']}: {verdict}", ""]
    if changes.regressions:
        head += [f"{len(changes.regressions)} regression(s) since the baseline:", ""]
        head += [f"- {line}" for line in changes.regressions] + [""]
    if failures:
        head += [f"{len(failures)} verdict(s) differ from what the specs state:", ""]
        head += [f"- {line}" for line in failures] + [""]
    if not changes.regressions and not failures:
        head += ["No regression" + (" since the baseline" if changes.baseline else "")
                 + ", and every verdict is what the specs state.", ""]
    if not any(cell["rung"] for cell in tonight["cells"]):
        head += ["No cell reached any bound within the budget: nothing was checked.", ""]
    return head


def markdown(tonight: dict[str, Any], changes: Changes) -> str:
    cells = tonight["cells"]
    head = headline(tonight, changes)
    news = [("Fixed", changes.fixed), ("Slower", changes.slower), ("A smaller bound reached", changes.lower),
            ("A larger bound reached", changes.higher), ("New cells", changes.new)]
    head += [f"Baseline: {changes.baseline}." if changes.baseline else "Baseline: none (the first night).", ""]
    for title, lines in news:
        if lines:
            head += [f"{title}:", ""] + [f"- {line}" for line in lines] + [""]
    reached = sum(1 for c in cells if c["rung"])
    commit = tonight["commit"][:12] if tonight["commit"] else "not a git checkout"
    head += [f"modelcheck {tonight['modelcheck']} ({commit}) on {tonight['machine']['hostname']} "
             f"({tonight['machine']['cores']} cores), budget {tonight['budget_seconds']:g} s, "
             f"{tonight['seconds']:.0f} s spent; {reached} of {len(cells)} cells reached a bound.",
             "", "`=`: the verdict the spec states; `≠`: another; `@`: the largest bound finished "
             "(rung/rungs); `st`: states at that bound.", ""]
    policies = list(dict.fromkeys(c["policy"] for c in cells))
    specs = list(dict.fromkeys(c["spec_id"] for c in cells))
    by = {(c["spec_id"], c["policy"]): c for c in cells}
    titles = {c["spec_id"]: c["title"] for c in cells}
    rows = ["| spec | " + " | ".join(policies) + " |", "|---|" + "---|" * len(policies)]
    for spec in specs:
        out = []
        for policy in policies:
            c = by.get((spec, policy))
            if c is None:
                out.append("")
            elif c["rung"] == 0:
                out.append("no bound reached" if c["error"] is None else "error")
            else:
                mark = "" if c["as_expected"] is None else (" =" if c["as_expected"] else " ≠")
                out.append(f"{c['verdict']}{mark} @ {bound_text(c['bound'])} ({c['rung']}/{c['rungs']})<br>"
                           f"{c['states']:,} st, {_seconds(c['seconds'])}")
        rows.append(f"| **{spec}** {titles[spec]} | " + " | ".join(out) + " |")
    return "\n".join(head + rows) + "\n"


def junit(tonight: dict[str, Any], traces: Mapping[tuple[str, str], str] | None = None) -> str:
    """One testcase per spec x policy: a verdict that differs from history is a failure carrying the
    shortest counterexample as text (``traces``: by spec id and policy), a cell that reached no bound is
    skipped."""
    cells = tonight["cells"]
    count = {s: sum(1 for c in cells if c["status"] == s) for s in ("fail", "skip", "error")}
    suite = ET.Element("testsuite", name="modelcheck nightly", tests=str(len(cells)), failures=str(count["fail"]),
                       skipped=str(count["skip"]), errors=str(count["error"]), timestamp=tonight["date"],
                       hostname=tonight["machine"]["hostname"], time=f"{tonight['seconds']:.2f}")
    for c in cells:
        case = ET.SubElement(suite, "testcase", classname=f"modelcheck.nightly.{c['spec_id']}",
                             name=f"{c['spec_id']} {c['title']} [{c['policy']}]", time=f"{c['seconds'] or 0:.3f}")
        if c["status"] == "skip":
            ET.SubElement(case, "skipped", message="no bound reached within the budget")
        elif c["status"] == "error":
            ET.SubElement(case, "error", message=c["error"] or "")
        elif c["status"] == "fail":
            message = (f"{c['verdict']} at {bound_text(c['bound'])}; the spec states {c['expected']}"
                       if c["verdict"] != "vacuous" else f"vacuous at {bound_text(c['bound'])}: "
                       f"never fired {', '.join(c['missing_coverage'])}")
            failure = ET.SubElement(case, "failure", message=message, type=c["verdict"])
            failure.text = (traces or {}).get((c["spec_id"], c["policy"])) or message
        ET.SubElement(case, "system-out").text = (f"bound {bound_text(c['bound'])} (rung {c['rung']} of "
                                                  f"{c['rungs']}), verdict {c['verdict']}, expected "
                                                  f"{c['expected'] or 'not stated'}")
    root = ET.Element("testsuites", name="modelcheck nightly")
    root.append(suite)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _tap_text(value: str) -> str:
    return " ".join(value.replace("#", "\\#").split())


def tap(tonight: dict[str, Any]) -> str:
    """TAP version 13 as kselftest prints it: a plan, one line per cell, a ``# Totals`` line."""
    cells = tonight["cells"]
    lines = ["TAP version 13", f"1..{len(cells)}",
             f"# modelcheck nightly {tonight['date']}, budget {tonight['budget_seconds']:g} s"]
    totals = {"pass": 0, "fail": 0, "skip": 0, "error": 0}
    for n, c in enumerate(cells, start=1):
        totals[c["status"]] += 1
        name = f"{n} {_tap_text(c['spec_id'] + ' ' + c['title'])} [{_tap_text(c['policy'])}]"
        if c["status"] == "skip":
            lines.append(f"ok {name} # SKIP no bound reached within the budget")
            continue
        if c["status"] == "error":
            lines.append(f"not ok {name} # error: {_tap_text(c['error'] or '')}")
            continue
        ok = "ok" if c["status"] == "pass" else "not ok"
        lines.append(f"{ok} {name} # bound {_tap_text(bound_text(c['bound']))}")
        if c["status"] == "fail":
            lines.append(f"# {_tap_text(c['verdict'])}, the spec states {c['expected']}")
    lines.append(f"# Totals: pass:{totals['pass']} fail:{totals['fail']} xfail:0 xpass:0 skip:{totals['skip']} "
                 f"error:{totals['error']}")
    return "\n".join(lines) + "\n"


def history_lines(tonight: dict[str, Any]) -> list[str]:
    def field_text(value: Any) -> str:
        return "-" if value is None else " ".join(str(value).split()).replace("\t", " ")

    return ["\t".join(field_text(v) for v in (tonight["date"], (tonight["commit"] or "")[:12] or None,
                                               c["spec_id"], c["policy"], f"{c['rung']}/{c['rungs']}",
                                               bound_text(c["bound"]), c["verdict"], c["expected"], c["states"],
                                               c["transitions"], c["seconds"]))
            for c in tonight["cells"]]


def write_atomic(path: Path, content: str) -> None:
    """Write ``content`` to ``path`` by a temporary file beside it and a rename: the old file or the new one."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w") as out:
            out.write(content)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write(out: Path, tonight: dict[str, Any], climbs: Sequence[Climb], changes: Changes) -> list[Path]:
    """Every file of the night into ``out``; returns the four read by people and CI."""
    out.mkdir(parents=True, exist_ok=True)
    traces = out / "traces"
    traces.mkdir(exist_ok=True)
    written, texts = set(), {}
    for climb, cell in zip(climbs, tonight["cells"]):
        reached = climb.reached
        if cell["counterexample"] is not None and reached is not None:
            path = out / cell["counterexample"]
            document = reached["trace_document"]
            spec = os.path.relpath(os.path.abspath(cell["spec"]), os.path.abspath(traces))
            for trace in document["traces"]:  # relative to where the file is, wherever the cell ran
                trace["spec"] = Path(spec).as_posix()
            write_atomic(path, json.dumps(document, indent=2) + "\n")
            written.add(path.name)
            texts[cell["spec_id"], cell["policy"]] = reached["trace_text"]
    for stale in traces.glob("*.trace.json"):  # last night's counterexamples of cells that no longer have one
        if stale.name not in written:
            stale.unlink()
    junit_text = junit(tonight, texts)
    document = json.dumps(tonight, indent=2) + "\n"
    nights = out / "nights"
    nights.mkdir(exist_ok=True)
    stamp = tonight["date"].replace(":", "").replace("+0000", "Z")
    write_atomic(nights / f"{stamp}.json", document)
    files = [out / "latest.json", out / "summary.md", out / "junit.xml", out / "results.tap"]
    for path, content in zip(files, (document, markdown(tonight, changes), junit_text, tap(tonight))):
        write_atomic(path, content)
    history = out / "history.tsv"
    old = history.read_text() if history.exists() else "\t".join(HISTORY_COLUMNS) + "\n"
    write_atomic(history, old + "\n".join(history_lines(tonight)) + "\n")
    return files


def now() -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0)


def executor_name(workers: int | None, scheduler: str | None) -> str:
    if scheduler:
        return f"dask scheduler {scheduler}"
    return f"local dask cluster of {workers}" if workers else "this process"

