"""The bounded model checker (--engine bmc) against breadth-first search: same verdicts, same shortest
counterexample lengths, traces that replay; a depth bound that is too small says so."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from modelcheck.engine import SearchOptions, Verdict, check
from modelcheck.engine import EnginesDisagree
from modelcheck.faces.cli import main
from modelcheck.spec import bind, load_spec
from tests.toy_models import Ring, Wheels

ROOT = Path(__file__).resolve().parents[1]
SPECS = sorted((ROOT / "specs").glob("*.py"))
# the quick ones run in the default suite; every scripted spec under every policy in the slow one
QUICK = [("c1_basic_cow", ("mapcount", "page_count")), ("c8_iouring_fork", ("mapcount", "page_count")),
         ("c9_ro_pin_shared", ("mapcount", "page_count")),
         # a leak found through a memo of the leak check: symbolic values must not be kept as its keys
         ("c5_vmsplice_before_fork", ("mapcount", "page_count"))]


def both(path: Path, policy: str, time_limit: float | None = None):
    loaded = bind(path, load_spec(path))
    model = loaded.world.model(policy, loaded.spec.invariants)
    bfs = check(model, SearchOptions(store="dict"))
    bmc = check(model, SearchOptions(strategy="bmc", depth=bfs.stats.depth + 1, time_limit=time_limit))
    return bfs, bmc


def same(bfs, bmc) -> bool:
    lengths = [None if r.counterexample is None else len(r.counterexample) for r in (bfs, bmc)]
    return bfs.verdict is bmc.verdict and lengths[0] == lengths[1]


@pytest.mark.parametrize("name, policies", QUICK)
def test_bmc_agrees_with_breadth_first_search(name, policies):
    for policy in policies:
        bfs, bmc = both(ROOT / "specs" / f"{name}.py", policy)
        assert same(bfs, bmc), (name, policy, bfs.verdict, bmc.verdict)
        assert bmc.strategy == "bmc"


SCRIPTED = [p for p in SPECS if bind(p, load_spec(p)).world.scenario is not None]


@pytest.mark.slow
@pytest.mark.parametrize("path", SCRIPTED, ids=[p.stem for p in SCRIPTED])
def test_every_scenario_under_every_policy_both_engines(path):
    """Both engines give every scripted spec under every policy the same verdict and shortest length,
    and the bounded run reaches a full verdict by itself (its bound is one no run that repeats no state
    can exceed); results/bmc-bench.md has the figures (bench/bmc_compare.py)."""
    loaded = bind(path, load_spec(path))
    if loaded.world.symbolic_refs:
        pytest.skip("symbolic references per step: the explicit engines only")
    for policy in loaded.policies():
        model = loaded.world.model(policy, loaded.spec.invariants)
        bfs = check(model, SearchOptions(store="dict"))
        bounded = loaded.world.with_held_as_parameters().model(policy, loaded.spec.invariants)
        bmc = check(bounded, SearchOptions(strategy="bmc", depth=max(bfs.stats.depth + 1, bfs.stats.states),
                                         time_limit=900))
        assert bmc.verdict is not Verdict.INCOMPLETE, (path.stem, policy, bmc.incomplete_reason)
        assert same(bfs, bmc), (path.stem, policy, bfs.verdict, bmc.verdict)


def test_references_held_in_an_unknown_number_are_a_parameter_z3_finds(tmp_path, capsys):
    """O16: the bounded model checker leaves the held count free and finds the least one that breaks
    page_maybe_dma_pinned() (1023 besides the mapping, the count the symbolic explicit run gives too),
    with the same verdicts and lengths as that run; the trace file records the count and replays."""
    path = ROOT / "specs" / "o16_maybe_pinned_false_positive.py"
    loaded = bind(path, load_spec(path))
    for policy, verdict in (("page_count_fork_copy", Verdict.VIOLATED), ("page_count", Verdict.HOLDS)):
        bfs = check(loaded.world.model(policy, loaded.spec.invariants), SearchOptions(store="dict"))
        bmc = check(loaded.world.with_held_as_parameters().model(policy, loaded.spec.invariants),
                    SearchOptions(strategy="bmc", depth=8))
        assert bfs.verdict is bmc.verdict is verdict and same(bfs, bmc)
    assert bmc.stats.depth == 4  # holds: the script ends, no run of 5 steps
    traces = tmp_path / "o16.json"
    assert main([str(path), "--engine", "bmc", "--depth", "8", "--policy", "page_count_fork_copy", "--quiet",
                 "--trace-out", str(traces)]) == 0
    assert "references held outside on a0: 1023" in capsys.readouterr().out
    (recorded,) = json.loads(traces.read_text())["traces"]
    assert list(recorded["parameters"].values()) == [1023]
    assert recorded["initial_state"]["pages"]["0"]["refcount"] == 1024
    assert main(["replay", str(traces), "--trust-spec", "--quiet"]) == 0


def test_a_depth_bound_below_the_shortest_counterexample_is_incomplete_not_holds():
    path = ROOT / "specs" / "c9_ro_pin_shared.py"
    loaded = bind(path, load_spec(path))
    model = loaded.world.model("mapcount", loaded.spec.invariants)
    bfs = check(model, SearchOptions(store="dict"))
    assert bfs.verdict is Verdict.VIOLATED
    short = check(model, SearchOptions(strategy="bmc", depth=len(bfs.counterexample) - 1))
    assert short.verdict is Verdict.INCOMPLETE and "within" in short.incomplete_reason
    enough = check(model, SearchOptions(strategy="bmc", depth=len(bfs.counterexample)))
    assert enough.verdict is Verdict.VIOLATED and len(enough.counterexample) == len(bfs.counterexample)


def test_the_command_line_runs_the_bounded_model_checker(capsys):
    status = main([str(ROOT / "specs" / "c9_ro_pin_shared.py"), "--engine", "bmc", "--depth", "8",
                   "--policy", "mapcount", "--quiet"])
    out = capsys.readouterr().out
    assert status == 0 and "shortest counterexample (bounded model checking)" in out


@pytest.mark.parametrize("argv, message", [
    # a world with symbolic references has no step that is one transition function of the state
    (["specs/vmsplice.py", "--symbolic-refs", "--engine", "bmc", "--depth", "4"], "one key at a time"),
    (["specs/c1_basic_cow.py", "--engine", "bmc"], "--depth K"),
    (["specs/c1_basic_cow.py", "--depth", "4"], "--engine bmc"),
])
def test_bmc_mistakes_are_one_line(argv, message, capsys):
    assert main([str(ROOT / argv[0]), *argv[1:], "--quiet"]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


# -- the engine alone, on a model with answers by hand -------------------------------------------------------

def test_a_cyclic_model_gets_a_full_verdict_and_a_short_bound_says_incomplete():
    # 9 states, every one on a cycle; the longest run without a repeat takes 5 steps:
    # (0,0) (1,0) (1,1) (1,2) (2,2) (0,2), so the 6th step is where none is left
    model = Ring(3, at=1, top=2, far=1024)
    bfs = check(model, SearchOptions(store="dict"))
    assert bfs.stats.states == 9 and bfs.stats.depth == 5
    done = check(model, SearchOptions(strategy="bmc", depth=20))
    assert done.verdict is Verdict.HOLDS and done.stats.depth == 6
    short = check(model, SearchOptions(strategy="bmc", depth=5))
    assert short.verdict is Verdict.INCOMPLETE and "within 5" in short.incomplete_reason


def test_the_search_ends_where_breadth_first_search_does_not_where_loop_free_runs_do():
    """Two wheels turning independently: every state within 2(n-1) steps, but runs that never repeat a
    state go on for n*n - 1 steps; once the newest frame has only states earlier frames have, the
    search is complete."""
    n = 5
    model = Wheels(n, never=(n, n))
    bfs = check(model, SearchOptions(store="dict"))
    assert bfs.stats.states == n * n and bfs.stats.depth == 2 * (n - 1)
    result = check(model, SearchOptions(strategy="bmc", depth=n * n))
    assert result.verdict is Verdict.HOLDS and result.stats.depth == 2 * (n - 1) + 1


@pytest.mark.parametrize("n, at, top", [(3, 1, 2), (4, 3, 3), (2, 0, 4)])
def test_shortest_violations_of_a_cyclic_model_match_breadth_first_search(n, at, top):
    model = Ring(n, at=at, top=top, bad=top, bad_step=True)
    bfs = check(model, SearchOptions(store="dict", stop_at_first=False))
    bmc = check(model, SearchOptions(strategy="bmc", depth=n * (top + 1), stop_at_first=False))
    shortest = at + top
    assert {v.property: len(v.trace) for v in bmc.violations} == {v.property: len(v.trace) for v in bfs.violations} \
        == {"y_below_bad": shortest, "no_bump_to_top": shortest}


def test_past_the_listing_cap_only_the_end_of_loop_free_runs_completes_the_search(monkeypatch):
    from modelcheck.engine.strategies import unrolling as bmc
    monkeypatch.setattr(bmc._Unrolling, "LISTING_CAP", 3)
    result = check(Wheels(3, never=(3, 3)), SearchOptions(strategy="bmc", depth=20))
    assert result.verdict is Verdict.HOLDS and result.stats.depth == 3 * 3  # 8 loop-free steps, then none
    assert any("more than 3 states" in note for note in result.notes)


def test_code_runs_only_on_reachable_states_and_guards_serve_every_later_frame():
    """tick indexes a list by x: on a free x symbolic execution would need 2^32 values; on the frames it
    needs n, found at the first frames and reused after (the table has n + 1 transitions at any depth)."""
    n = 5
    result = check(Ring(n, at=2, top=3), SearchOptions(strategy="bmc", depth=40))
    assert result.verdict is Verdict.HOLDS and result.stats.transitions == n + 1


class _InterruptAt(list):
    """A successor list that stands for Ctrl-C when x reaches ``at``."""

    def __init__(self, items, at):
        super().__init__(items)
        self.at = at

    def __getitem__(self, i):
        if int(i) == self.at:
            raise KeyboardInterrupt
        return super().__getitem__(i)


def test_ctrl_c_ends_a_bounded_run_with_what_it_explored():
    model = Ring(3, at=1, top=2, successor_of=_InterruptAt([1, 2, 0], at=2))
    result = check(model, SearchOptions(strategy="bmc", depth=20))
    assert result.verdict is Verdict.INCOMPLETE and result.interrupted
    assert result.incomplete_reason == "interrupted by the user" and result.stats.depth >= 1


def test_code_that_fails_on_a_reachable_state_is_an_error_not_a_dropped_path():
    model = Ring(3, at=1, top=1, successor_of=[1, 2])  # x == 2 is reachable and has no successor entry
    with pytest.raises(EnginesDisagree, match="IndexError"):
        check(model, SearchOptions(strategy="bmc", depth=10))


def test_an_unknown_answer_from_z3_is_an_error_not_a_third_verdict():
    """A check that tested "== sat" would take unknown for unsat: the solver raises instead."""
    import z3

    from modelcheck.engine.symbolic import SolverGaveUp
    from modelcheck.engine.symbolic.solver import Solver

    solver = Solver("QF_BV", resource_limit=1)  # a resource limit that no real question fits in
    x, y = z3.BitVecs("x y", 32)
    solver.add(x * y == 1234567, x > 1, y > 1)
    with pytest.raises(SolverGaveUp, match="resource limit"):
        solver.check()
