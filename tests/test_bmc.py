"""The bounded model checker (--engine bmc) against breadth-first search: same verdicts, same shortest
counterexample lengths, traces that replay; a depth bound that is too small says so."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelcheck.engine import SearchOptions, Verdict, check
from modelcheck.faces.cli import main
from modelcheck.spec import bind, load_spec

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
    """Wherever the bounded run finishes within 10 s it agrees with breadth-first search; which runs
    do not finish is in results/bmc-bench.md (bench/bmc_compare.py)."""
    loaded = bind(path, load_spec(path))
    if loaded.world.symbolic_refs or loaded.world.held_unknown:
        pytest.skip("symbolic references: the explicit engines only")
    for policy in loaded.policies():
        bfs, bmc = both(path, policy, time_limit=10)
        assert bmc.verdict is Verdict.INCOMPLETE or same(bfs, bmc), (path.stem, policy)


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
    (["specs/vmsplice.py", "--engine", "bmc", "--depth", "4"], "scripted scenarios"),
    (["specs/c1_basic_cow.py", "--engine", "bmc"], "--depth K"),
    (["specs/c1_basic_cow.py", "--depth", "4"], "--engine bmc"),
])
def test_bmc_mistakes_are_one_line(argv, message, capsys):
    assert main([str(ROOT / argv[0]), *argv[1:], "--quiet"]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
