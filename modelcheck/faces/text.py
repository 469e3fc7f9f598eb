"""Plain-text reports: the verdict table and counterexamples as numbered steps."""

from __future__ import annotations

from typing import Sequence, TextIO

from modelcheck.engine import STRATEGIES, Trace, Verdict
from modelcheck.runner import PolicyRun
from modelcheck.spec import LoadedSpec

COLUMNS = ("policy", "verdict", "expected", "states", "transitions", "depth", "seconds", "states/s", "")
TIMING_COLUMNS = ("seconds", "states/s")  # what --no-timing leaves out, so two runs can be diffed


def is_timing(figure: str) -> bool:
    """A clock reading among a run's figures (``engine.model.Counted``: their names end in "seconds")."""
    return figure.endswith("seconds")


def header(loaded: LoadedSpec, search: str, stop_at_first: bool, reduce: bool = False) -> str:
    params = " ".join(f"{k}={v}" for k, v in loaded.params.items())
    mode = "stop at the first violation" if stop_at_first else "explore everything (--no-stop)"
    if reduce:
        mode += ", symmetry reduction where the model offers it (states are representatives)"
    lines = [f"{loaded.spec.id}: {loaded.spec.title}",
             f"spec {loaded.path}" + (f" [{params}]" if params else "") +
             f"  world {loaded.world.describe()}",
             f"invariants {', '.join(loaded.spec.invariants)}  search {search}, {mode}"]
    return "\n".join(lines)


def _row(run: PolicyRun) -> list[str]:
    r, s = run.result, run.result.stats
    if run.missing_coverage:
        mark = "VACUOUS: never fired " + ", ".join(run.missing_coverage)
    elif r.verdict is Verdict.INCOMPLETE:
        mark = f"incomplete: {r.incomplete_reason}"
    elif run.as_expected is False:
        mark = "UNEXPECTED"
    else:
        mark = ""
    expected = run.expected or "-"
    return [run.policy, r.verdict.value, expected, f"{s.states:,}", f"{s.transitions:,}", str(s.depth),
            f"{s.seconds:.2f}", f"{s.states_per_second:,.0f}", mark]


def table(runs: Sequence[PolicyRun], timing: bool = True) -> str:
    kept = [i for i, name in enumerate(COLUMNS) if timing or name not in TIMING_COLUMNS]
    rows = [[row[i] for i in kept] for row in [list(COLUMNS)] + [_row(run) for run in runs]]
    widths = [max(len(row[i]) for row in rows) for i in range(len(kept))]
    numeric = {n for n, i in enumerate(kept) if 3 <= i <= 7}
    lines = []
    for row in rows:
        cells = [cell.rjust(widths[i]) if i in numeric else cell.ljust(widths[i]) for i, cell in enumerate(row)]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def trace_text(trace: Trace, indent: str = "  ", full: bool = False) -> str:
    """The numbered steps with what each changed and the choices each made (``!`` marks one whose other way
    avoids the violation), the violation, and the deciding choice nearest it. ``full`` adds the whole state
    after each step and a table of which properties hold after each step."""
    lines = []
    if full:
        lines += [f"{indent}    initial state:"] + [f"{indent}      {line}" for line in state_lines(trace.initial_state)]
    for step in trace.steps:
        lines.append(f"{indent}{step.index:>2}. {step.label}")
        for change in step.changes:
            lines.append(f"{indent}      {change}")
        for decision in trace.decisions:
            if decision.step == step.index:
                mark = "!" if decision.deciding else "-"
                lines.append(f"{indent}    {mark} decides: {decision.words.split(': ', 1)[1]}")
        if full:
            lines += [f"{indent}      state after:"] + [f"{indent}        {line}" for line in state_lines(step.state)]
    lines.append(f"{indent}=> {trace.property} violated: {trace.explanation}")
    culprit = trace.culprit
    if culprit is not None:
        lines.append(f"{indent}=> deciding: {culprit.words}")
        earlier = [d for d in trace.deciding if d is not culprit]
        if earlier:
            lines.append(f"{indent}   (the other way also avoids it at step "
                         + ", ".join(f"{d.step} ({d.kind})" for d in earlier) + ")")
    elif trace.decisions:
        lines.append(f"{indent}=> no single choice of the policy decides it: each taken the other way still ends "
                     "in the violation or stops the schedule")
    if full and trace.steps and trace.steps[0].judged:
        lines.append("")
        lines += [indent + line for line in property_table(trace)]
    return "\n".join(lines)


def state_lines(state: object, depth: int = 0) -> list[str]:
    """A JSON picture of a state as indented lines, one scalar (or list of scalars) per line."""
    if not isinstance(state, dict):
        return [str(state)]
    lines = []
    for key, value in state.items():
        if isinstance(value, dict) and value:
            lines.append("  " * depth + f"{key}:")
            lines += state_lines(value, depth + 1)
        else:
            lines.append("  " * depth + f"{key}: {'-' if value is None else value}")
    return lines


def property_table(trace: Trace) -> list[str]:
    """Per step, whether each property the model checks holds after it (``ok``) or fails (``FAIL``)."""
    names = [name for name, _ in trace.steps[0].judged]
    rows = [["step", *names]] + [[str(step.index), *("ok" if holds else "FAIL" for _, holds in step.judged)]
                                 for step in trace.steps]
    widths = [max(len(row[i]) for row in rows) for i in range(len(names) + 1)]
    return ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in rows]


def counterexamples(runs: Sequence[PolicyRun], full: bool = False) -> str:
    parts = []
    for run in runs:
        r = run.result
        for violation in r.violations:
            trace = violation.trace
            strategy = STRATEGIES[r.strategy]
            shortest = strategy.counterexample_words
            length = f"{len(trace)} steps"
            if trace.minimized is not None:
                found_by = strategy.found_by
                shortest = "shortest counterexample" if trace.minimized.shortest else "counterexample"
                length += f" (minimized from {trace.minimized.original} found by {found_by})"
            count = f"; {violation.count:,} violating transitions or states in all" if violation.count > 1 else ""
            parts.append(f"{run.policy}: {trace.property} violated, {shortest} of {length}{count}\n"
                         + trace_text(trace, full=full))
    return "\n\n".join(parts)


def counts(runs: Sequence[PolicyRun]) -> str:
    """Counted events (e.g. spurious copies: a write fault copied a page only transient references shared)."""
    lines = [f"  {run.policy}: " + ", ".join(f"{name} {n:,}" for name, n in run.result.counts.items() if n)
             for run in runs if any(run.result.counts.values())]
    return ("counted in the explored transitions:\n" + "\n".join(lines)) if lines else ""


def summary(runs: Sequence[PolicyRun]) -> str:
    differ = [run.policy for run in runs if run.as_expected is False]
    unfinished = [run.policy for run in runs if run.result.verdict is Verdict.INCOMPLETE]
    unknown = [run.policy for run in runs if run.expected is None and run.result.verdict is not Verdict.INCOMPLETE]
    if differ:
        text = f"{len(differ)} of {len(runs)} verdicts differ from the spec's expectation: {', '.join(differ)}"
    elif unfinished:
        text = f"{len(unfinished)} of {len(runs)} runs ended incomplete: {', '.join(unfinished)}"
    else:
        text = f"all {len(runs) - len(unknown)} stated verdicts as expected"
    if unknown:
        text += f"; no expectation stated for {', '.join(unknown)}"
    return text


def coverage(runs: Sequence[PolicyRun]) -> str:
    """The coverage items that never fired, per policy (a holds there says nothing about them)."""
    lines = [f"  {run.policy}: {', '.join(run.result.not_covered)}" for run in runs
             if run.result.not_covered and run.result.verdict is not Verdict.INCOMPLETE
             and not run.result.violations]
    return ("never fired (a 'holds' says nothing about these):\n" + "\n".join(lines)) if lines else ""


def stores(runs: Sequence[PolicyRun]) -> str:
    """The store each run used, its size per state and, for fingerprints, the chance a state was missed."""
    lines = []
    for run in runs:
        r = run.result
        f = r.figures
        if "store" not in f:
            continue
        workers = f.get("workers", 1)
        line = f"  {run.policy}: {f['store']} store" + (f" in {workers} workers" if workers > 1 else "")
        if f.get("batched"):
            line += ", batch successors"
        size = f.get("store_bytes", 0)
        if size and r.stats.states >= 10_000:  # below that the figure is the tables' starting size
            line += f", {size / 2**20:,.1f} MiB ({size / r.stats.states:.1f} bytes/state)"
        if f.get("miss_probability") is not None:
            line += f"; probability that a state was missed at most {f['miss_probability']:.1e}"
        lines.append(line)
    return "\nstores:\n" + "\n".join(lines)


def model_figures(runs: Sequence[PolicyRun], timing: bool = True) -> str:
    """The world's own figures per run (e.g. the solver's calls, cache hits and seconds)."""
    shown = [(run.policy, [(name, value) for name, value in run.result.model_figures.items()
                           if timing or not is_timing(name)]) for run in runs]
    lines = [f"  {policy}: " + ", ".join(f"{name} {value:,}" for name, value in figures)
             for policy, figures in shown if figures]
    return ("also measured:\n" + "\n".join(lines)) if lines else ""


def notes(runs: Sequence[PolicyRun]) -> str:
    """What a run did other than what was asked (a reduction that did not apply), and why."""
    by_note: dict[str, list[str]] = {}
    for run in runs:
        for note in run.result.notes:
            by_note.setdefault(note, []).append(run.policy)
    lines = [f"  {'every policy' if len(who) == len(runs) > 1 else ', '.join(who)}: {note}"
             for note, who in by_note.items()]
    return ("notes:\n" + "\n".join(lines)) if lines else ""


def report(out: TextIO, loaded: LoadedSpec, runs: Sequence[PolicyRun], search: str, stop_at_first: bool,
           reduce: bool = False, timing: bool = True, full: bool = False) -> None:
    """The whole text report; without ``timing``, nothing in it depends on the clock."""
    out.write(header(loaded, search, stop_at_first, reduce) + "\n\n")
    out.write(table(runs, timing) + "\n")
    traces = counterexamples(runs, full)
    if traces:
        out.write("\n" + traces + "\n")
    unfired = coverage(runs)
    if unfired:
        out.write("\n" + unfired + "\n")
    for part in (counts(runs), model_figures(runs, timing), notes(runs)):
        if part:
            out.write("\n" + part + "\n")
    out.write("\n" + summary(runs) + "\n")
