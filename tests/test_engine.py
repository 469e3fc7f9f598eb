"""The engine on small models whose answers are known by hand."""

import json
import time

import pytest

from modelcheck.engine import SearchOptions, StopReason, Verdict, check, replay
from toy_models import Counter, NaiveLock, Step


@pytest.mark.parametrize("strategy", ["bfs", "dfs"])
def test_counter_explores_every_state(strategy):
    result = check(Counter(10), SearchOptions(strategy=strategy))
    assert result.verdict is Verdict.HOLDS
    assert (result.stats.states, result.stats.transitions, result.stats.depth) == (11, 10, 10)


def test_state_invariant_trace_is_the_path_to_the_bad_state():
    result = check(Counter(10, forbidden=4))
    assert result.verdict is Verdict.VIOLATED
    trace = result.counterexample
    assert trace.property == "never_forbidden"
    assert len(trace) == 4
    assert trace.steps[-1].state == {"x": 4}
    assert trace.initial_state == {"x": 0}


def test_transition_check_trace_ends_with_the_bad_transition():
    result = check(Counter(10, forbidden_step=6))
    assert result.verdict is Verdict.VIOLATED
    assert len(result.counterexample) == 7
    assert result.counterexample.explanation == "stepped from 6 to 7"


def test_naive_lock_known_state_count_and_shortest_race():
    full = check(NaiveLock(), SearchOptions(stop_at_first=False))
    assert full.verdict is Verdict.VIOLATED
    assert full.stats.states == 13
    first = check(NaiveLock())
    assert first.counterexample.labels() == ["p0 test", "p1 test", "p0 set", "p1 set"]


def test_dfs_agrees_with_bfs_on_counts_and_verdict():
    bfs = check(NaiveLock(), SearchOptions(strategy="bfs", stop_at_first=False))
    dfs = check(NaiveLock(), SearchOptions(strategy="dfs", stop_at_first=False))
    assert (dfs.stats.states, dfs.stats.transitions, dfs.verdict) == \
        (bfs.stats.states, bfs.stats.transitions, bfs.verdict)
    assert dfs.violations[0].count == bfs.violations[0].count


def test_atomic_lock_holds():
    result = check(NaiveLock(atomic=True), SearchOptions(stop_at_first=False))
    assert result.verdict is Verdict.HOLDS
    assert result.stats.states == 3


def test_no_stop_counts_every_violation():
    result = check(Counter(10, forbidden_step=3), SearchOptions(stop_at_first=False))
    assert result.stats.states == 11
    assert result.violations[0].count == 1


def test_state_limit_ends_incomplete_never_holds():
    result = check(Counter(100), SearchOptions(max_states=10))
    assert result.verdict is Verdict.INCOMPLETE
    assert result.stats.states == 10
    assert "state limit" in result.incomplete_reason


def test_state_limit_equal_to_the_state_count_completes():
    assert check(Counter(9), SearchOptions(max_states=10)).verdict is Verdict.HOLDS


def test_time_limit_ends_incomplete():
    result = check(Counter(10**8), SearchOptions(time_limit=0.05))
    assert result.verdict is Verdict.INCOMPLETE
    assert "time limit" in result.incomplete_reason
    assert 0 < result.stats.states < 10**8


@pytest.mark.parametrize("strategy", ["bfs", "dfs", "simulate"])
def test_time_limit_ends_a_step_that_never_comes_back_to_the_clock(strategy):
    """One expansion sleeps a minute; a limit of half a second ends the run about a second after it."""
    started = time.perf_counter()
    options = SearchOptions(strategy=strategy, time_limit=0.5,
                            **({"depth": 100, "settings": (("walks", 1),)} if strategy == "simulate" else {}))
    result = check(Counter(100, stuck_at=3), options)
    assert time.perf_counter() - started < 20
    assert result.verdict is Verdict.INCOMPLETE and result.stop is StopReason.TIME_LIMIT
    assert 3 <= result.stats.states <= 5 or strategy == "simulate"


def test_interrupt_ends_incomplete_with_what_was_explored():
    result = check(Counter(100, interrupt_at=50))
    assert result.verdict is Verdict.INCOMPLETE
    assert result.interrupted
    assert result.stats.states == 51


def test_bad_options_are_refused():
    with pytest.raises(ValueError):
        SearchOptions(strategy="random")
    with pytest.raises(ValueError):
        SearchOptions(max_states=0)
    with pytest.raises(ValueError):
        SearchOptions(time_limit=-1)


def test_replay_accepts_the_race_and_names_a_disabled_step():
    good = replay(NaiveLock(), "mutual_exclusion", ["p0 test", "p1 test", "p0 set", "p1 set"])
    assert good.ok and len(good.trace) == 4
    bad = replay(NaiveLock(), "mutual_exclusion", ["p0 test", "p0 test"])
    assert not bad.ok and bad.failed_step == 2 and "not enabled" in bad.reason
    short = replay(NaiveLock(), "mutual_exclusion", ["p0 test", "p1 test", "p0 set"])
    assert not short.ok and "does not violate" in short.reason
    wrong_state = replay(NaiveLock(), "mutual_exclusion", ["p0 test"], recorded_states=[[0, 1, 0]])
    assert not wrong_state.ok and wrong_state.failed_step == 1


class MirrorCounter(Counter):
    """A counter with a sign: +x and -x behave alike, so |x| is a sound canonical form."""

    def initial_states(self):
        return [0]

    def successors(self, x):
        if abs(x) >= self.limit:
            return []
        return [(self.INC, x + 1 if x >= 0 else x - 1), (Step("flip"), -x)]

    def canonical(self, x):
        return abs(x)


def test_symmetry_keeps_one_representative_and_traces_stay_real():
    plain = check(MirrorCounter(5, forbidden=-4), SearchOptions(stop_at_first=False))
    reduced = check(MirrorCounter(5, forbidden=4), SearchOptions(stop_at_first=False, reduce=True))
    assert plain.stats.states == 11 and reduced.stats.states == 6
    trace = check(MirrorCounter(5, forbidden_step=3), SearchOptions(reduce=True)).counterexample
    assert [step.state for step in trace.steps] == [{"x": 1}, {"x": 2}, {"x": 3}, {"x": 4}]


def test_an_unsound_canonical_form_is_reported_when_a_trace_is_rebuilt():
    class Broken(MirrorCounter):
        def canonical(self, x):
            return 3 if x == 2 else abs(x)  # merges 2 with 3: not a symmetry

    with pytest.raises(RuntimeError, match="not a symmetry"):
        check(Broken(5, forbidden_step=3), SearchOptions(reduce=True))


def test_building_the_model_counts_against_the_time_limit(tmp_path, capsys):
    """A world whose model takes longer to build than the limit: the run ends incomplete at once."""
    from modelcheck.engine.strategies.explicit import CHECK_EVERY
    from modelcheck.faces.cli import main

    spec = tmp_path / "slow_world.py"
    spec.write_text(
        "import time\nfrom modelcheck import Spec\nfrom toy_models import Counter\n"
        "class SlowWorld:\n"
        "    def policy_names(self): return ['only']\n"
        "    def invariant_names(self): return ['never_forbidden']\n"
        "    def describe(self): return 'a counter that takes a while to build'\n"
        "    def variants(self): return []\n"
        "    def variant(self, name): return None\n"
        "    def model(self, policy, invariants):\n"
        "        time.sleep(1.2)\n"
        "        return Counter(10**9, forbidden=-1)\n"
        "SPEC = Spec(id='slow', title='t', world=SlowWorld, invariants=['never_forbidden'])\n")
    assert main([str(spec), "--quiet", "--time-limit", "1", "--json"]) == 3
    result = json.loads(capsys.readouterr().out)["results"][0]
    assert result["incomplete_reason"] == "time limit of 1 s reached"
    assert result["seconds"] >= 1.2 and result["states"] <= 2 * CHECK_EVERY  # stopped at its first look
