"""Dynamic partial-order reduction (engine.dpor) on models with answers known by hand."""

from __future__ import annotations

import pytest

from modelcheck.engine import SearchOptions, check
from modelcheck.engine.result import Verdict
from tests.toy_models import Counter, Programs

DPOR = SearchOptions(strategy="dpor", stop_at_first=False)
FULL = SearchOptions(strategy="bfs", stop_at_first=False)


def violated(result) -> set[str]:
    return {v.property for v in result.violations}


def test_independent_threads_need_one_execution():
    # three threads, each writing its own variable four times: 5^3 states in all, one execution suffices
    model = Programs([[("write", t, k) for k in range(1, 5)] for t in range(3)], variables=3)
    full, reduced = check(model, FULL), check(model, DPOR)
    assert full.stats.states == 5 ** 3
    assert reduced.verdict is Verdict.HOLDS and reduced.reductions == ("dpor",)
    assert reduced.figures["executions"] == 1 and reduced.stats.states == 13 and reduced.stats.transitions == 12


def test_conflicting_threads_take_every_order_of_the_conflict():
    # t0 writes v0 twice, t1 copies v0 into v1: the copy can read 0, 1 or 2, so three executions
    model = Programs([[("write", 0, 1), ("write", 0, 2)], [("copy", 1, 0, 0)]], variables=2)
    reduced = check(model, DPOR)
    assert reduced.figures["executions"] == 3
    assert {s for s in range(3)} == {v for v in _final_v1(model)}


def _final_v1(model):
    """The values v1 can end with, by brute force."""
    finals, stack = set(), list(model.initial_states())
    while stack:
        state = stack.pop()
        succ = model.successors(state)
        if not succ:
            finals.add(state[1][1])
        stack.extend(after for _, after in succ)
    return finals


def test_a_read_only_the_reversed_order_reaches_is_found():
    # t0's copy comes first in every state's order; only t1 first lets it read 7
    model = Programs([[("copy", 1, 0, 0)], [("write", 0, 7)]], variables=2, read_watch=(0, 7))
    result = check(model, DPOR)
    assert violated(result) == {"no_bad_read"}
    assert [s.label for s in result.counterexample.steps] == ["t1: v0 = 7", "t0: v1 = v0"]


def test_a_state_only_the_reversed_order_reaches_is_found():
    # independent writes, but the invariant reads both variables: (0, 1) only with t1 first
    model = Programs([[("write", 0, 1)], [("write", 1, 1)]], variables=2, forbidden=(0, 1))
    result = check(model, DPOR)
    assert violated(result) == {"not_forbidden"} and check(model, FULL).verdict is Verdict.VIOLATED


def test_a_step_that_another_disables_is_still_tried_first():
    # t0's write disables t1's await for good; only t1 first can write v1
    model = Programs([[("write", 0, 1)], [("await", 0, 0), ("write", 1, 1)]], variables=2, forbidden=(None, 1))
    result = check(model, DPOR)
    assert violated(result) == {"not_forbidden"}


@pytest.mark.parametrize("lie", ["properties", "writes"])
def test_an_unsound_footprint_is_caught_by_the_differential_check(lie):
    """A footprint that leaves out what the invariant reads (or what a step writes) prunes the
    only violating order: DPOR then says holds where breadth-first search finds the violation."""
    if lie == "properties":
        model = Programs([[("write", 0, 1)], [("write", 1, 1)]], variables=2, forbidden=(0, 1), lie=lie)
    else:
        model = Programs([[("write", 1, 7)], [("copy", 0, 1, 1)]], variables=2, read_watch=(1, 0), lie=lie)
    assert check(model, FULL).verdict is Verdict.VIOLATED
    assert check(model, DPOR).verdict is Verdict.HOLDS  # what the differential tests exist to catch


def test_dpor_agrees_with_the_full_search_on_random_programs():
    import random

    rng = random.Random(7)
    for _ in range(150):
        threads = rng.randint(1, 3)
        programs = [[_random_op(rng, t) for _ in range(rng.randint(1, 3))] for t in range(threads)]
        forbidden = tuple(rng.choice([None, 0, 1, 2]) for _ in range(3))
        model = Programs(programs, variables=3, forbidden=forbidden, read_watch=(rng.randrange(3), 1))
        full, reduced = check(model, FULL), check(model, DPOR)
        assert violated(full) == violated(reduced), programs
        assert reduced.stats.states <= full.stats.states


def _random_op(rng, thread):
    var = rng.randrange(3)
    if rng.random() < 0.2:
        return ("await", var, rng.randint(0, 1))
    if rng.random() < 0.5:
        return ("write", var, rng.randint(1, 2))
    return ("copy", var, 0, rng.randrange(3))


def test_a_model_that_loops_is_searched_without_dpor_and_says_so():
    model = Programs([[("write", 0, 1), ("write", 0, 0)]], variables=1, loop=True)
    result = check(model, DPOR)
    assert result.verdict is Verdict.HOLDS and result.strategy == "bfs" and result.stats.states == 2
    assert "finite executions" in result.notes[0]


def test_a_model_without_footprints_is_searched_without_dpor_and_says_so():
    result = check(Counter(5), DPOR)
    assert result.stats.states == 6 and "declares its steps' footprints" in result.notes[0]


def test_dpor_does_not_combine_with_stores_workers_or_symmetry():
    for extra in ({"store": "compact"}, {"workers": 2}, {"reduce": True}):
        with pytest.raises(ValueError, match="DPOR"):
            SearchOptions(strategy="dpor", **extra)
