"""The ``dot`` export: the trace as a Graphviz graph."""

from __future__ import annotations

import textwrap
from typing import Sequence

from modelcheck.faces.exports._shared import Trace, actor_and_action, changes_of, culprit, exporter, one_trace, verdict_line


def _dot_string(text: str) -> str:
    """A DOT double-quoted string of one line: backslashes and quotes escaped."""
    return '"' + " ".join(text.split()).replace("\\", "\\\\").replace('"', '\\"') + '"'


def _dot_label(lines: Sequence[str]) -> str:
    """A node label of left-justified lines (``\\l``), each escaped, their leading spaces kept."""
    def escaped(line: str) -> str:
        return " ".join(line.splitlines()).replace("\\", "\\\\").replace('"', '\\"')
    return '"' + "".join(escaped(line) + "\\l" for line in lines) + '"'


@exporter("dot", "a Graphviz graph")
def dot(traces: Sequence[Trace]) -> str:
    """A Graphviz digraph: the steps as a chain of nodes (number, actor, action, then what changed), from the
    initial state to the last step, marked as the one that violates the property; the step of the deciding
    choice (the last whose other way avoids the violation) is marked and says it."""
    trace = one_trace(traces, "Graphviz graph")
    lines = [f"digraph {_dot_string(verdict_line(trace))} {{",
             "    rankdir=TB;",
             '    node [shape=box, fontname="monospace"];',
             f"    start [shape=ellipse, label={_dot_string(str(trace['spec_id']) + ' under ' + str(trace['policy']))}];"]
    previous, steps = "start", trace["steps"]
    deciding = culprit(trace)
    for n, step in enumerate(steps, start=1):
        actor, action = actor_and_action(step)
        text = [f"{n}. {actor}: {action}", *(f"  {c}" for c in changes_of(step))]
        mark = ""
        if deciding is not None and deciding.get("step") == n:
            text += ["DECIDING:", *(f"  {line}" for line in textwrap.wrap(str(deciding["words"]), 70))]
            mark = ", color=orange, penwidth=2"
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
