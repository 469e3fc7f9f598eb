"""The search engine: generic over any model that follows ``engine.model.Model``.

Nothing here knows which world it searches: the engine sees opaque hashable
states and actions, and properties that judge a state or a transition. What a
model offers beyond that is declared by capability protocols (``model``);
strategies (``strategies``) decide from them what they can search.
"""

from modelcheck.engine.checkpoint import CheckpointError, Checkpoints
from modelcheck.engine.cluster import cluster_client
from modelcheck.engine.errors import (ClusterUnavailable, Declined, EnginesDisagree, NotSearchable, StopReason, Stopped,
                                      WorkerFailed)
from modelcheck.engine.graph import GRAPH_LIMIT, GraphTooBig, graph_record, state_graph
from modelcheck.engine.memory import SAFE_FRACTION, default_limit, parse_size
from modelcheck.engine.model import (Batched, BatchForm, Choice, Counted, Covered, Decisive, Footprinted, Invariant,
                                     Model, Parametric, StepKeyed, Summarized, Symmetric, TransitionCheck,
                                     TransitionCount)
from modelcheck.engine.options import SearchOptions
from modelcheck.engine.replay import ReplayOutcome, replay
from modelcheck.engine.result import Decision, Result, Stats, Step, Trace, Verdict, Violation
from modelcheck.engine.strategies import STRATEGIES, Strategy, check
from modelcheck.engine.stores import STORES

__all__ = [
    "Model", "Invariant", "TransitionCheck", "TransitionCount",
    "Symmetric", "Batched", "BatchForm", "StepKeyed", "Footprinted", "Parametric", "Covered", "Counted",
    "Decisive", "Choice", "Decision",
    "Result", "Stats", "Trace", "Step", "Verdict", "Violation", "StopReason",
    "SearchOptions", "check", "STRATEGIES", "Strategy", "STORES", "ReplayOutcome", "replay",
    "Checkpoints", "CheckpointError", "Declined", "EnginesDisagree", "NotSearchable", "Stopped", "WorkerFailed",
    "SAFE_FRACTION", "default_limit", "parse_size", "cluster_client", "ClusterUnavailable",
    "Summarized", "GRAPH_LIMIT", "GraphTooBig", "graph_record", "state_graph",
]
