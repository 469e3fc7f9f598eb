"""Random simulation (--simulate): walks that check the same properties, never a proof."""

from pathlib import Path

from modelcheck.cow import CowWorld
from modelcheck.engine import SearchOptions, StopReason, Verdict, check, replay
from modelcheck.faces.cli import main
from tests.toy_models import Counter

ROOT = Path(__file__).resolve().parents[1]
VMSPLICE = str(ROOT / "specs" / "vmsplice.py")


def _world():
    return CowWorld(processes=2, addresses=1, actions=frozenset(
        {"write", "read", "munmap", "vmsplice", "pipe_read", "fork"}))


def test_a_walk_finds_the_cve_and_its_trace_replays():
    model = _world().model("mapcount", ["no_leak_to_child"])
    result = check(model, SearchOptions(strategy="simulate", depth=12, settings=(("walks", 500), ("seed", 1))))
    assert result.verdict is Verdict.VIOLATED and result.strategy == "simulate"
    trace = result.counterexample
    outcome = replay(model, trace.property, trace.labels(), initial_state=trace.initial_state,
                     recorded_states=[step.state for step in trace.steps])
    assert outcome.ok, outcome.reason


def test_no_violation_is_never_holds():
    result = check(_world().model("page_count", ["no_leak_to_child"]),
                   SearchOptions(strategy="simulate", depth=8, settings=(("walks", 40),)))
    assert result.verdict is Verdict.INCOMPLETE and result.stop is StopReason.WALKS_DONE
    assert result.incomplete_reason.startswith("no violation in 40 random walks of at most 8 steps")
    assert result.figures["walks"] == 40 and 0 < result.stats.states <= 124 and result.stats.depth <= 8


def test_the_same_seed_takes_the_same_walks():
    options = SearchOptions(strategy="simulate", depth=10, settings=(("walks", 300), ("seed", 7)), stop_at_first=False)
    first, second = (check(_world().model("mapcount", ["no_leak_to_child"]), options) for _ in range(2))
    assert first.counterexample.labels() == second.counterexample.labels()
    assert (first.stats.states, first.stats.transitions) == (second.stats.states, second.stats.transitions)


def test_a_violating_initial_state_is_found_with_an_empty_walk():
    result = check(Counter(3, forbidden=0), SearchOptions(strategy="simulate", settings=(("walks", 1),)))
    assert result.verdict is Verdict.VIOLATED and len(result.counterexample) == 0


def test_simulate_on_the_command_line(capsys):
    assert main([VMSPLICE, "--simulate", "--walks", "300", "--depth", "10", "--policy", "mapcount",
                 "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "counterexample (a random walk)" in out
    assert main([VMSPLICE, "--simulate", "--walks", "20", "--policy", "page_count", "--quiet"]) == 3
    assert "no violation in 20 random walks" in capsys.readouterr().out
    assert main([VMSPLICE, "--simulate", "--store", "compact"]) == 2
    err = capsys.readouterr().err
    assert "random simulation keeps no states" in err and err.count("\n") == 1


def test_a_setting_of_another_strategy_is_a_usage_error(capsys):
    assert main([VMSPLICE, "--walks", "5"]) == 2
    err = capsys.readouterr().err
    assert "--walks is not a setting of breadth-first" in err and err.count("\n") == 1
