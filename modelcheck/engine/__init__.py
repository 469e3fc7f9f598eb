"""The search engine: generic over any model that follows ``engine.model.Model``.

Nothing here knows which world it searches: the engine sees opaque hashable
states and actions, and properties that judge a state or a transition.
"""

from modelcheck.engine.model import Model, Invariant, TransitionCheck, TransitionCount
from modelcheck.engine.result import Result, Stats, Trace, Step, Verdict, Violation
from modelcheck.engine.search import SearchOptions, check
from modelcheck.engine.replay import ReplayOutcome, replay

__all__ = [
    "Model", "Invariant", "TransitionCheck", "TransitionCount",
    "Result", "Stats", "Trace", "Step", "Verdict", "Violation",
    "SearchOptions", "check", "ReplayOutcome", "replay",
]
