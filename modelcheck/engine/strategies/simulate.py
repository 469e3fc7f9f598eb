"""Random simulation: walks from the initial states, checking the same properties on the way.

As TLC's ``-simulate`` and Stateright's simulation checker do: each walk starts
at an initial state and takes, at every step, one enabled transition chosen at
random, until it reaches a state with no successor or ``depth`` steps. Every
state and transition met is judged, so a violation comes with the walk that
led to it as a trace that replays. States are not stored: a simulation samples
the state space and never shows that a property holds, so a run without a
violation ends incomplete ("no violation in N walks").

The walks are a function of the seed (``--seed``, 0 by default), so a run can
be repeated.
"""

from __future__ import annotations

import random

from modelcheck.engine.errors import StopReason, Stopped
from modelcheck.engine.model import Model
from modelcheck.engine.options import SearchOptions
from modelcheck.engine.pipeline import Pipeline
from modelcheck.engine.run import Run
from modelcheck.engine.strategies import STRATEGIES, Strategy
from modelcheck.engine.traces import build_trace

DEFAULT_WALKS = 1000
DEFAULT_DEPTH = 100


@STRATEGIES.register
class Simulation(Strategy):
    """Random walks of bounded length."""

    name = "simulate"
    summary = "random simulation"
    flag_help = ("random simulation: --walks random walks (default 1000) of at most --depth steps (default 100) "
                 "from the initial states, from --seed (default 0); a violation comes with a trace that replays, "
                 "and no violation is never a proof")
    found_by = "a random walk"
    counterexample_words = "counterexample (a random walk)"
    depth_bounds = "random walks (--simulate)"
    depth_help = "--simulate: the longest walk"
    settings = (("walks", "--simulate: how many random walks"),
                ("seed", "--simulate: the random generator's seed"))

    @classmethod
    def options_error(cls, options: SearchOptions) -> str | None:
        if options.workers > 1 or options.store is not None or options.reduce:
            return "random simulation keeps no states: it does not combine with --store, --workers or --reduce"
        return None

    def run(self, model: Model, run: Run) -> None:
        options = run.options
        walks = options.setting("walks", DEFAULT_WALKS)
        depth = options.depth or DEFAULT_DEPTH
        seed = options.setting("seed", 0)
        generator = random.Random(seed)
        pipeline = Pipeline(run)
        initial = [state for state, _ in pipeline.initial_keys()]
        seen: set = set()  # distinct states met, for the figures only (a walk does not consult it)
        run.figures.update(walks=0, seed=seed)
        for walk in range(walks):
            state = generator.choice(initial)
            start = state
            path: list[tuple] = []
            self._judge_state(run, pipeline, start, state, path)
            seen.add(state)
            for _ in range(depth):
                options_here = list(pipeline.transitions(state))
                if not options_here:
                    break
                action, after, _, broken = generator.choice(options_here)
                path.append((state, action, after))
                for check in broken:
                    self._violation(run, check.name, check.explain(state, action, after), start, path)
                state = after
                self._judge_state(run, pipeline, start, state, path)
                if state not in seen:
                    seen.add(state)
                    run.states = len(seen)
                run.depth = max(run.depth, len(path))
            run.figures["walks"] = walk + 1
            run.tick()
        if not run.violations:
            raise Stopped(StopReason.WALKS_DONE)

    @staticmethod
    def _judge_state(run: Run, pipeline: Pipeline, start: object, state: object, path: list[tuple]) -> None:
        for inv in pipeline.broken_invariants(state):
            Simulation._violation(run, inv.name, inv.explain(state), start, path)

    @staticmethod
    def _violation(run: Run, name: str, explanation: str, start: object, path: list[tuple]) -> None:
        """A violation on the walk so far (from ``start``, along ``path``): the walk is its trace."""
        trace = None
        if run.wants_trace(name):
            trace = build_trace(run.model, name, explanation, start, list(path))
        run.found(name, trace)
