"""Counterexamples people can read and share: a trace file's traces as Markdown, Mermaid or Graphviz.

These read trace documents only (what ``export.trace_document`` builds and
``export.read_trace_file`` reads), so a trace found on one machine renders the
same anywhere, and an old trace file renders as well as a new one.
"""

from __future__ import annotations

import re
import textwrap
from typing import Any, Callable, Mapping, Sequence

from modelcheck import __version__

Trace = Mapping[str, Any]
KERNEL = "kernel"


class ExportError(Exception):
    """Traces a format cannot draw (a usage error): none, or several where one diagram holds one."""


def actor_and_action(step: Mapping[str, Any]) -> tuple[str, str]:
    """Who acted and what they did: the step's recorded actor (its label starts with it), else the label's
    first word, as in ``parent fork()``; a label of one word is the kernel's."""
    label: str = step["label"]
    actor = step.get("actor")
    if isinstance(actor, str) and actor and label.startswith(actor + " "):
        return actor, label[len(actor) + 1:]
    head, _, rest = label.partition(" ")
    return (head, rest) if rest else (KERNEL, label)


def _changes(step: Mapping[str, Any]) -> list[str]:
    changes = step.get("changes")
    return [str(c) for c in changes] if isinstance(changes, list) else []


def _params(trace: Trace) -> str:
    return " ".join(f"{name}={value}" for name, value in trace.get("params", {}).items())


def verdict_line(trace: Trace) -> str:
    """The one line a report ends with: which property broke, under which policy, at which step."""
    return (f"{trace['spec_id']} under {trace['policy']}: {trace['property']} violated at step "
            f"{len(trace['steps'])}")


# --- Markdown -------------------------------------------------------------------------------------------

def _code(text: str) -> str:
    """``text`` as a Markdown code span on one line, however many backticks it holds (so nothing in it
    needs escaping)."""
    text = " ".join(text.splitlines())
    fence = "`" * (max((len(run) for run in re.findall(r"`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or not text.strip() else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _prose(text: str) -> str:
    """Text a spec wrote (an explanation) as Markdown prose: the characters that would start markup escaped."""
    return re.sub(r"([\\`*_<])", r"\\\1", " ".join(text.split()))


def _markdown_trace(trace: Trace, heading: str) -> list[str]:
    title = trace.get("title")
    scenario = _code(str(trace["spec_id"])) + (f", {_prose(str(title))}" if title else "")
    params = _params(trace)
    lines = [f"{heading} {trace['spec_id']} under {trace['policy']}: {trace['property']} violated", "",
             f"- Scenario: {scenario}",
             f"- Spec file: {_code(str(trace['spec_as_given']))}" + (f" ({_code(params)})" if params else ""),
             f"- Policy: {_code(str(trace['policy']))}",
             f"- Property: {_code(str(trace['property']))}"]
    if trace.get("variants"):
        lines.append(f"- Variants: {', '.join(_code(str(v)) for v in trace['variants'])}")
    if trace.get("parameters"):
        lines.append("- Chosen by the solver: " + ", ".join(
            _code(f"{name} = {value}") for name, value in trace["parameters"].items()))
    if trace.get("search"):
        lines.append(f"- Found by: {_code(str(trace['search']))} search"
                     + (f" with {', '.join(trace['reductions'])}" if trace.get("reductions") else ""))
    lines += ["", f"{heading}# Steps", ""]
    for n, step in enumerate(trace["steps"], start=1):
        lines.append(f"{n}. {_code(step['label'])}")
        lines += [f"   - {_code(change)}" for change in _changes(step)]
    lines += ["", f"{heading}# Verdict", ""]
    if trace.get("explanation"):
        lines += [f"> {_prose(str(trace['explanation']))}", ""]
    lines.append(f"**{verdict_line(trace)}.**")
    return lines


def markdown(traces: Sequence[Trace]) -> str:
    """A report to paste into a mail or a bug: per trace its scenario, policy, property, numbered steps with
    what each changed, and the verdict; a file of no traces says the run found no violation."""
    if not traces:
        return "# No counterexample\n\nThe run that wrote these traces found no violation.\n"
    lines: list[str] = []
    heading = "#" if len(traces) == 1 else "##"
    if len(traces) > 1:
        lines += [f"# {len(traces)} counterexamples", ""]
    for trace in traces:
        lines += _markdown_trace(trace, heading) + [""]
    lines.append(f"Found and written by modelcheck {__version__}.")
    return "\n".join(lines) + "\n"


# --- Mermaid --------------------------------------------------------------------------------------------

def _mermaid_text(text: str) -> str:
    """Text for a Mermaid message or note: ``#`` and ``;`` as entity codes (Mermaid reads them as markup and
    as the end of a statement), one line."""
    return " ".join(text.replace("#", "#35;").replace(";", "#59;").split())


def _one(traces: Sequence[Trace], what: str) -> Trace:
    if not traces:
        raise ExportError(f"no counterexample to draw as {what} (the run found no violation)")
    if len(traces) > 1:
        raise ExportError(f"{len(traces)} counterexamples, and a {what} draws one")
    return traces[0]


def mermaid(traces: Sequence[Trace]) -> str:
    """A ``sequenceDiagram``: every actor a participant beside the kernel, every step a message from its
    actor to the kernel (a note over the kernel for its own steps) with what changed, the violation a note."""
    trace = _one(traces, "Mermaid diagram")
    actors = list(dict.fromkeys(actor_and_action(step)[0] for step in trace["steps"]))
    ids = {actor: f"a{n}" for n, actor in enumerate(a for a in actors if a != KERNEL)}
    ids[KERNEL] = "k"
    lines = ["sequenceDiagram", f"    %% {_mermaid_text(verdict_line(trace))}"]
    lines += [f"    participant {ids[a]} as {_mermaid_text(a)}" for a in actors if a != KERNEL]
    lines.append(f"    participant k as {KERNEL}")
    last = "k"
    for n, step in enumerate(trace["steps"], start=1):
        actor, action = actor_and_action(step)
        last = ids[actor]
        if actor == KERNEL:
            lines.append(f"    Note over k: {n}. {_mermaid_text(action)}")
        else:
            lines.append(f"    {ids[actor]}->>k: {n}. {_mermaid_text(action)}")
        changes = _changes(step)
        if changes:
            lines.append("    Note right of k: " + "<br/>".join(_mermaid_text(c) for c in changes))
    span = "k" if last == "k" else f"{last},k"
    explanation = f": {trace['explanation']}" if trace.get("explanation") else ""
    lines.append(f"    Note over {span}: {_mermaid_text(str(trace['property']) + ' violated' + explanation)}")
    return "\n".join(lines) + "\n"


# --- Graphviz -------------------------------------------------------------------------------------------

def _dot_string(text: str) -> str:
    """A DOT double-quoted string of one line: backslashes and quotes escaped."""
    return '"' + " ".join(text.split()).replace("\\", "\\\\").replace('"', '\\"') + '"'


def _dot_label(lines: Sequence[str]) -> str:
    """A node label of left-justified lines (``\\l``), each escaped, their leading spaces kept."""
    def escaped(line: str) -> str:
        return " ".join(line.splitlines()).replace("\\", "\\\\").replace('"', '\\"')
    return '"' + "".join(escaped(line) + "\\l" for line in lines) + '"'


def dot(traces: Sequence[Trace]) -> str:
    """A Graphviz digraph: the steps as a chain of nodes (number, actor, action, then what changed), from the
    initial state to the last step, marked as the one that violates the property."""
    trace = _one(traces, "Graphviz graph")
    lines = [f"digraph {_dot_string(verdict_line(trace))} {{",
             "    rankdir=TB;",
             '    node [shape=box, fontname="monospace"];',
             f"    start [shape=ellipse, label={_dot_string(str(trace['spec_id']) + ' under ' + str(trace['policy']))}];"]
    previous, steps = "start", trace["steps"]
    for n, step in enumerate(steps, start=1):
        actor, action = actor_and_action(step)
        text = [f"{n}. {actor}: {action}", *(f"  {c}" for c in _changes(step))]
        mark = ""
        if n == len(steps):
            text.append(f"VIOLATES {trace['property']}")
            mark = ", color=red, penwidth=2"
        lines.append(f"    s{n} [label={_dot_label(text)}{mark}];")
        lines.append(f"    {previous} -> s{n};")
        previous = f"s{n}"
    explanation = str(trace.get("explanation") or f"{trace['property']} violated")
    lines.append(f"    violation [shape=note, color=red, label={_dot_label(textwrap.wrap(explanation, 60))}];")
    lines.append(f"    {previous} -> violation [style=dashed, color=red];")
    lines.append("}")
    return "\n".join(lines) + "\n"


FORMATS: dict[str, Callable[[Sequence[Trace]], str]] = {"md": markdown, "mermaid": mermaid, "dot": dot}


def render(name: str, traces: Sequence[Trace]) -> str:
    """The traces in format ``name`` (one of ``FORMATS``); an ``ExportError`` if that format cannot draw them."""
    return FORMATS[name](traces)
