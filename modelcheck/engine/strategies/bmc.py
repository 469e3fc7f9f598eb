"""Bounded model checking: the model's transition relation unrolled for K steps in z3.

The second engine, to check the first. It does not search a state graph: the
state after k steps is a frame of bit-vector variables, each defined from the
frame before by a choice among guarded updates, and z3 is asked for a run from
the initial state whose last step violates a property. Depth by depth, so the
first run found is a shortest one (the same length breadth-first search
reports). The search is complete, and "no violation" a full verdict, when the
newest frame has no state that no earlier frame has (the frames then hold every
reachable state: the reachability diameter, found by listing each frame's
states with the solver, one question per new state), or when no run of k+1
steps visits k+2 different states (the recurrence diameter as completeness
threshold, as in Biere et al.'s bounded model checking), whichever comes first.

The guarded updates come from the model's own step code, run by symbolic
execution (``symbolic.bitvec``) on a state of variables x bound to frame k: each path
through the code is a guard on x and the terms of the successor's slots. The
relation is built lazily: at frame k only the paths that some run of k steps
takes and that no guard found so far covers are explored, so the code is never
run on a state no execution reaches (which is what made an eager relation over
every vector within slot bounds walk thousands of unreachable paths). A path's
guard is the conjunction of every condition the code tested, so it is exact
for every state, not only for those of the frame it was found at; the paths of
one key's deterministic code have disjoint guards, so a state that a guard
found at an earlier frame covers can never take a later one.

Properties are judged the same way: an invariant's code runs on frame k+1 and
any path on which it returns false is a violation some run reaches; a
transition check runs on frames k and k+1 for each action step k can take. Each
piece of code is known by its paths so far, so a frame costs one question when
nothing is new there, and one more per property.

The counterexample is replayed on the model itself (``replay``), so it has the
same shape as the explicit engines' and a disagreement between the two engines
shows as a failed replay.

What a model offers for it: ``StepKeyed`` (``step_keys()`` and ``step(state,
key)``, the enabled actions of one key with their successors, as
``successors`` lists them), on states that are flat tuples of integers, from
one initial state. Optionally ``Parametric``: initial-state slots left free, by
name, with inclusive bounds, and the model with them fixed to replay a
counterexample on; z3 then finds the values a violation needs.
"""

from __future__ import annotations

from modelcheck.engine.errors import StopReason, Stopped
from modelcheck.engine.model import Model, StepKeyed
from modelcheck.engine.options import SearchOptions
from modelcheck.engine.run import Run
from modelcheck.engine.strategies import STRATEGIES, Strategy


@STRATEGIES.register
class BoundedModelChecking(Strategy):
    """The transition relation unrolled in z3, frame by frame, so the first violation found is a shortest one."""

    name = "bmc"
    summary = "bounded model checking"
    prefers_world = "parameters"  # unknown counts as parameters of the run, which z3 chooses
    shortest = True  # frame by frame: the first frame with a violation is its least depth
    counterexample_words = "shortest counterexample (bounded model checking)"
    depth_bounds = "the bounded model checker (--engine bmc)"
    depth_help = "bmc: look for counterexamples of at most K steps"

    @classmethod
    def options_error(cls, options: SearchOptions) -> str | None:
        if options.depth is None:
            return "the bounded model checker needs --depth K, K at least 1"
        if options.workers > 1 or options.store is not None or options.reduce or options.max_states is not None:
            return ("the bounded model checker keeps no states: it does not combine with --store, "
                    "--workers, --reduce or --max-states")
        return None

    @classmethod
    def accepts(cls, model: Model, options: SearchOptions) -> str | None:
        if not isinstance(model, StepKeyed):
            return ("the bounded model checker needs a model that offers its steps one key at a time, and this "
                    "one does not (with symbolic references one step has a successor per outcome of z3's tests)")
        if len(list(model.initial_states())) != 1:
            return "the bounded model checker needs exactly one initial state"
        return None

    def run(self, model: Model, run: Run) -> None:
        assert isinstance(model, StepKeyed)
        run.coverage_known = False  # frames are not enumerated: what fired is not known
        from modelcheck.engine.strategies import unrolling  # z3 is loaded here: explicit runs never need it
        from modelcheck.engine.symbolic.bitvec import TooManyValues

        try:
            unrolling.search(model, run)
        except TooManyValues as many:
            raise Stopped(StopReason.TOO_MANY_VALUES, str(many)) from None
