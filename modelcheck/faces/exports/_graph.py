"""What the whole-graph formats share: a trace's recorded state graph (``--graph``) read as a networkx graph,
with the path the trace takes through it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from modelcheck.faces.exports._shared import ExportError, Trace, one_trace

if TYPE_CHECKING:
    import networkx as nx


@dataclass(frozen=True)
class DrawnGraph:
    """A trace's state graph: the graph (node and edge data as recorded), the nodes of the trace's path, for
    each edge on it the step numbers that take it."""

    trace: Trace
    graph: nx.DiGraph
    path: tuple[int, ...]
    steps_on: Mapping[tuple[int, int], tuple[int, ...]]

    @property
    def violating(self) -> int:
        """The state the trace ends in, where its property is violated (or the transition into it)."""
        return self.path[-1]

    def edge_labels(self, source: int, target: int) -> list[str]:
        labels: list[str] = self.graph.edges[source, target]["labels"]
        return labels

    def step_label(self, step: int) -> str:
        label: str = self.trace["steps"][step - 1]["label"]
        return label


def drawn_graph(traces: Sequence[Trace], what: str) -> DrawnGraph:
    """The one trace's recorded graph; an ``ExportError`` when there is none or the path is not in it.
    (networkx is imported here, when a graph is drawn, not with the command line.)"""
    import networkx as nx

    trace = one_trace(traces, what)
    record: Any = trace.get("graph")
    if not isinstance(record, Mapping):
        raise ExportError(f"the trace records no state graph, and a {what} draws it: run the check with --graph "
                          "(worlds of a few hundred states)")
    graph = nx.DiGraph()
    for node in record["nodes"]:
        graph.add_node(node["id"], summary=node["summary"], initial=node["initial"], violates=node["violates"])
    for edge in record["edges"]:
        graph.add_edge(edge["source"], edge["target"], labels=edge["labels"], violates=edge["violates"])
    path = tuple(record["path"])
    if len(path) != len(trace["steps"]) + 1 or not nx.is_path(graph, list(path)) \
            or not graph.nodes[path[0]]["initial"]:
        raise ExportError("the trace's path is not a path of its recorded state graph from an initial state")
    steps_on: dict[tuple[int, int], tuple[int, ...]] = {}
    for step, hop in enumerate(zip(path, path[1:]), start=1):
        steps_on[hop] = steps_on.get(hop, ()) + (step,)
    return DrawnGraph(trace, graph, path, steps_on)


def steps_words(steps: Sequence[int]) -> str:
    """"step 3" or "steps 2, 5" for the steps of the path that take one edge."""
    return ("step " if len(steps) == 1 else "steps ") + ", ".join(str(n) for n in steps)
