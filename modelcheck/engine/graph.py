"""The whole reachable state graph of a small model, to draw with a counterexample's path on it.

``state_graph`` explores every reachable state breadth-first (no reduction:
a picture shows the states an execution goes through) into a
``networkx.DiGraph``, refusing past a limit, because a drawing of more than
a few hundred states is no longer read. Nodes are numbered in breadth-first
order and carry a short summary (the model's ``Summarized`` capability, else
its JSON picture cut short), whether they are initial, and the invariants
they break; an edge carries the labels of the actions from one state to the
other and the transition checks they break. ``graph_record`` is that graph as
plain data with the path a trace takes through it, for trace documents.
"""

from __future__ import annotations

import json
from collections import deque
from typing import TYPE_CHECKING, Any, Hashable

from modelcheck.engine.model import Model, Summarized, split_properties
from modelcheck.engine.result import Trace

if TYPE_CHECKING:
    import networkx as nx

GRAPH_LIMIT = 500  # the most states a drawing of the whole graph holds
SUMMARY_WIDTH = 120


class GraphTooBig(Exception):
    """The model has more reachable states than a drawing holds (a usage error)."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"the whole state graph is drawn for worlds of at most {limit:,} reachable states, and "
                         "this one has more (choose smaller --param values, or draw the trace alone)")
        self.limit = limit


def summary(model: Model, state: Hashable) -> str:
    """A short line for ``state``: the model's own, else its JSON picture, cut to ``SUMMARY_WIDTH``."""
    text = model.state_summary(state) if isinstance(model, Summarized) else \
        json.dumps(model.state_to_json(state), separators=(",", ":"), sort_keys=True)
    return text if len(text) <= SUMMARY_WIDTH else text[:SUMMARY_WIDTH - 3] + "..."


def state_graph(model: Model, limit: int = GRAPH_LIMIT) -> nx.DiGraph:
    """Every state reachable in ``model`` and every transition between them; ``GraphTooBig`` past ``limit``
    states. (networkx is imported here, by the runs that draw a graph, not by every run.)"""
    import networkx as nx

    invariants, checks, _ = split_properties(model)
    graph = nx.DiGraph(limit=limit)
    number: dict[Hashable, int] = {}
    queue: deque[Hashable] = deque()

    def node(state: Hashable, initial: bool) -> int:
        known = number.get(state)
        if known is not None:
            return known
        if len(number) >= limit:
            raise GraphTooBig(limit)
        n = number[state] = len(number)
        graph.add_node(n, state=state, picture=model.state_to_json(state), summary=summary(model, state),
                       initial=initial, violates=[i.name for i in invariants if not i.holds(state)])
        queue.append(state)
        return n

    for state in model.initial_states():
        node(state, True)
    while queue:
        state = queue.popleft()
        source = number[state]
        for action, after in model.successors(state):
            target = node(after, False)
            broken = [c.name for c in checks if c.watches(action) and not c.holds(state, action, after)]
            if graph.has_edge(source, target):
                edge = graph.edges[source, target]
                edge["labels"].append(model.action_label(action))
                edge["violates"] = sorted(set(edge["violates"]) | set(broken))
            else:
                graph.add_edge(source, target, labels=[model.action_label(action)], violates=sorted(broken))
    return graph


def trace_path(graph: nx.DiGraph, trace: Trace) -> list[int]:
    """The nodes ``trace`` goes through, its initial state first, following its steps by label."""
    at = next((n for n, data in graph.nodes(data=True) if data["initial"] and data["picture"] == trace.initial_state),
              None)
    if at is None:
        raise ValueError("the trace starts at no initial state of the graph")
    path = [at]
    for step in trace.steps:
        at = next((target for target in graph.successors(at) if step.label in graph.edges[at, target]["labels"]),
                  None)
        if at is None:
            raise ValueError(f"step {step.index} '{step.label}' is no edge of the graph")
        path.append(at)
    return path


def graph_record(graph: nx.DiGraph, trace: Trace) -> dict[str, Any]:
    """The graph as plain data (nodes, edges, the limit it was drawn within) with ``trace``'s path on it."""
    return {
        "limit": graph.graph["limit"],
        "nodes": [{"id": n, "summary": data["summary"], "initial": data["initial"], "violates": data["violates"]}
                  for n, data in sorted(graph.nodes(data=True))],
        "edges": [{"source": u, "target": v, "labels": data["labels"], "violates": data["violates"]}
                  for u, v, data in sorted(graph.edges(data=True), key=lambda e: (e[0], e[1]))],
        "path": trace_path(graph, trace),
    }
