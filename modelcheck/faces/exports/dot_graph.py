"""The ``dot-graph`` export: the whole reachable state graph as Graphviz, the trace's path on it."""

from __future__ import annotations

import textwrap
from typing import Sequence

from modelcheck.faces.exports._graph import drawn_graph, steps_words
from modelcheck.faces.exports._shared import Trace, exporter, verdict_line
from modelcheck.faces.exports.dot import _dot_label as dot_label
from modelcheck.faces.exports.dot import _dot_string as dot_string

PATH_COLOUR = "red3"
PATH_FILL = "#fff1c2"
VIOLATING_FILL = "#ffc9c9"
OFF_PATH = "gray55"


@exporter("dot-graph", "the whole state graph (recorded with --graph) as Graphviz, the trace's path in red",
          "graph.dot")
def dot_graph(traces: Sequence[Trace]) -> str:
    """A Graphviz digraph of every reachable state (``--graph``): initial states with a double border, the trace's states filled and its steps in red
    (numbered), the state it ends in marked as violating its property; other states and transitions that
    violate a property outlined in red, dashed."""
    drawn = drawn_graph(traces, "whole-graph drawing")
    trace, graph = drawn.trace, drawn.graph
    on_path = set(drawn.path)
    title = (f"{verdict_line(trace)} ({graph.number_of_nodes()} states, {graph.number_of_edges()} transitions; "
             "the trace in red)")
    lines = [f"digraph {dot_string(verdict_line(trace))} {{",
             "    rankdir=TB;",
             f"    label={dot_string(title)};",
             "    labelloc=t;",
             '    node [shape=box, fontname="monospace", fontsize=10];',
             '    edge [fontname="monospace", fontsize=9];']
    for n, data in sorted(graph.nodes(data=True)):
        text = [f"state {n}", *textwrap.wrap(data["summary"], 40)]
        marks = []
        if data["initial"]:
            marks.append("peripheries=2")
            text.insert(1, "initial")
        if n == drawn.violating:
            text.append(f"VIOLATES {trace['property']}")
            marks += [f"style=filled, fillcolor={dot_string(VIOLATING_FILL)}", f"color={PATH_COLOUR}", "penwidth=3"]
        elif n in on_path:
            marks += [f"style=filled, fillcolor={dot_string(PATH_FILL)}", f"color={PATH_COLOUR}", "penwidth=2"]
        elif data["violates"]:
            marks += [f"color={PATH_COLOUR}", "style=dashed"]
        if data["violates"] and n != drawn.violating:
            text.append("violates " + ", ".join(data["violates"]))
        lines.append(f"    n{n} [label={dot_label(text)}" + "".join(", " + m for m in marks) + "];")
    for source, target, data in sorted(graph.edges(data=True), key=lambda e: (e[0], e[1])):
        steps = drawn.steps_on.get((source, target))
        if steps is not None:
            taken = {drawn.step_label(step) for step in steps}
            words = "\n".join(f"{steps_words([s for s in steps if drawn.step_label(s) == l])}: {l}"
                              for l in data["labels"] if l in taken)
            style = f"color={PATH_COLOUR}, fontcolor={PATH_COLOUR}, penwidth=2.5"
        else:
            words = "\n".join(data["labels"])
            style = f"color={PATH_COLOUR}, style=dashed" if data["violates"] \
                else f"color={OFF_PATH}, fontcolor={OFF_PATH}"
        lines.append(f"    n{source} -> n{target} [label={dot_string_lines(words)}, {style}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def dot_string_lines(text: str) -> str:
    """A DOT string of several centred lines (``\\n``), each escaped."""
    return '"' + "\\n".join(" ".join(line.split()).replace("\\", "\\\\").replace('"', '\\"')
                            for line in text.split("\n")) + '"'
