"""The ``mermaid-graph`` export: the whole reachable state graph as a Mermaid flowchart, the trace's path on it."""

from __future__ import annotations

from typing import Sequence

from modelcheck.faces.exports._graph import drawn_graph, steps_words
from modelcheck.faces.exports._shared import Trace, exporter, verdict_line
from modelcheck.faces.exports.mermaid import _mermaid_text

PATH_STYLE = "stroke:#c00,stroke-width:3px,color:#c00"


def _text(text: str) -> str:
    """Text inside a Mermaid quoted label: as in a sequence diagram, plus quotes and bars as entity codes."""
    return _mermaid_text(text).replace('"', "#quot;").replace("|", "#124;")


@exporter("mermaid-graph", "the whole state graph (recorded with --graph) as a Mermaid flowchart, the trace's "
                           "path in red", "graph.mmd")
def mermaid_graph(traces: Sequence[Trace]) -> str:
    """A ``flowchart`` of every reachable state (``--graph``): initial states in a rounded box, the trace's
    states filled and its steps in red (numbered), the state it ends in marked as violating its property;
    other states and transitions that violate a property in red, dashed."""
    drawn = drawn_graph(traces, "whole-graph drawing")
    trace, graph = drawn.trace, drawn.graph
    lines = ["flowchart TD", f"    %% {_mermaid_text(verdict_line(trace))}: {graph.number_of_nodes()} states, "
                             f"{graph.number_of_edges()} transitions, the trace in red"]
    for n, data in sorted(graph.nodes(data=True)):
        text = f"state {n}" + (" (initial)" if data["initial"] else "") + "<br/>" + _text(data["summary"])
        if n == drawn.violating:
            text += f"<br/>VIOLATES {_text(str(trace['property']))}"
        elif data["violates"]:
            text += "<br/>violates " + _text(", ".join(data["violates"]))
        left, right = ("([", "])") if data["initial"] else ("[", "]")
        lines.append(f'    n{n}{left}"{text}"{right}')
    on_path, off_dashed = [], []
    edges = sorted(graph.edges(data=True), key=lambda e: (e[0], e[1]))
    for index, (source, target, data) in enumerate(edges):
        steps = drawn.steps_on.get((source, target))
        if steps is not None:
            on_path.append(index)
            label = "<br/>".join(f"{steps_words([s for s in steps if drawn.step_label(s) == l])}: {_text(l)}"
                                 for l in data["labels"] if any(drawn.step_label(s) == l for s in steps))
            lines.append(f'    n{source} ==>|"{label}"| n{target}')
        else:
            if data["violates"]:
                off_dashed.append(index)
            lines.append(f'    n{source} -->|"{"<br/>".join(_text(l) for l in data["labels"])}"| n{target}')
    lines += ["    classDef path fill:#fff1c2,stroke:#c00,stroke-width:2px",
              "    classDef violating fill:#ffc9c9,stroke:#c00,stroke-width:4px",
              "    classDef broken stroke:#c00,stroke-dasharray:5 5"]
    path_nodes = sorted(set(drawn.path) - {drawn.violating})
    if path_nodes:
        lines.append(f"    class {','.join(f'n{n}' for n in path_nodes)} path")
    lines.append(f"    class n{drawn.violating} violating")
    broken = sorted(n for n, data in graph.nodes(data=True) if data["violates"] and n not in drawn.path)
    if broken:
        lines.append(f"    class {','.join(f'n{n}' for n in broken)} broken")
    if on_path:
        lines.append(f"    linkStyle {','.join(map(str, on_path))} {PATH_STYLE}")
    if off_dashed:
        lines.append(f"    linkStyle {','.join(map(str, off_dashed))} stroke:#c00,stroke-dasharray:5 5")
    return "\n".join(lines) + "\n"
