"""Symbolic unknown references (--symbolic-refs): z3 decides the refcount tests of each step."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from modelcheck.cow import CowWorld
from modelcheck.engine import SearchOptions, Verdict, check, replay

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("point", [(1, 1), (2, 1), (3, 1), pytest.param((2, 2), marks=pytest.mark.slow)])
@pytest.mark.parametrize("policy", ["mapcount", "page_count", "anon_exclusive"])
def test_reference_world_symbolic_verdict_is_the_explicit_one_for_s_0_to_3(point, policy):
    P, M = point
    symbolic_world = CowWorld.reference(P, M, 0).with_symbolic_refs()
    symbolic = check(symbolic_world.model(policy, ["no_leak_across_fork"]), SearchOptions(stop_at_first=False))
    explicit = {S: check(CowWorld.reference(P, M, S).model(policy, ["no_leak_across_fork"]),
                         SearchOptions(stop_at_first=False)) for S in range(4)}
    assert symbolic.verdict is not Verdict.INCOMPLETE
    assert {r.verdict for r in explicit.values()} == {symbolic.verdict}
    assert symbolic.stats.states <= explicit[1].stats.states
    assert symbolic_world.describe().startswith(f"W({P},{M},*)")


def test_a_copy_forced_by_unknown_references_comes_with_their_count():
    world = CowWorld.scripted({"parent": ["mprotect_ro a0", "mprotect_rw a0", "store a0"]})
    assert check(world.model("page_count", ["no_spurious_copy"]), SearchOptions()).verdict is Verdict.HOLDS
    model = world.with_symbolic_refs().model("page_count", ["no_spurious_copy"])
    result = check(model, SearchOptions())
    assert result.verdict is Verdict.VIOLATED
    last = result.counterexample.steps[-1]
    assert last.changes[0] == "unknown references (speculative, or held outside the scenario) during this step: " \
        "1 on page 0"
    assert result.model_figures["solver calls"] >= 1


def test_each_feasible_outcome_of_a_step_is_one_successor():
    from modelcheck.engine.symbolic.counts import Feasibility, SymCount, every_outcome

    feasibility = Feasibility()

    def rule(decisions):  # a policy-like rule on a page with one known reference
        refcount = SymCount(("u0",), 1, decisions)
        if refcount == 1:
            return "reuse"
        return "pinned?" if refcount >= 1024 else "copy"

    outcomes = {result: feasibility.witness(tuple(d.tests)) for result, d in every_outcome(feasibility, rule)}
    assert outcomes == {"reuse": {"u0": 0}, "copy": {"u0": 1}, "pinned?": {"u0": 1023}}
    before = feasibility.stats.calls
    list(every_outcome(feasibility, rule))
    assert feasibility.stats.calls == before and feasibility.stats.cache_hits > 0


def test_explicit_runs_never_import_z3():
    code = ("import sys\n"
            "from modelcheck.faces.cli import main\n"
            "status = main(['specs/vmsplice.py', '--quiet'])\n"
            "status = main(['specs/c5_vmsplice_before_fork.py', '--quiet']) or status\n"
            "assert 'z3' not in sys.modules, 'z3 was imported'\n"
            "sys.exit(status)\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_the_command_line_reports_the_solver(capsys):
    from modelcheck.faces.cli import main

    assert main([str(ROOT / "specs" / "reference.py"), "--symbolic-refs", "--policy", "page_count",
                 "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "W(2,1,*)" in out and "solver calls" in out


def test_a_symbolic_trace_file_replays(tmp_path, capsys):
    from modelcheck.faces.cli import main

    out = tmp_path / "traces.json"
    assert main([str(ROOT / "specs" / "reference.py"), "--symbolic-refs", "--policy", "mapcount", "--quiet",
                 "--trace-out", str(out)]) == 0
    assert main(["replay", str(out), "--trust-spec", "--quiet"]) == 0
    assert "replays" in capsys.readouterr().out


def test_dpor_with_symbolic_references_falls_back_and_says_so():
    world = CowWorld.scripted({"parent": ["mprotect_ro a0", "mprotect_rw a0", "store a0"]}).with_symbolic_refs()
    result = check(world.model("page_count", ["no_spurious_copy"]), SearchOptions(strategy="dpor"))
    assert result.verdict is Verdict.VIOLATED and result.strategy == "bfs" and result.notes


@pytest.mark.parametrize("world, policy, invariant", [
    (CowWorld.scripted({"parent": ["mprotect_ro a0", "mprotect_rw a0", "store a0"]}), "page_count",
     "no_spurious_copy"),
    (CowWorld.reference(2, 1, 0), "page_count", "no_spurious_copy"),
    (CowWorld.reference(2, 1, 0), "mapcount", "no_leak_across_fork"),
    (CowWorld.reference(3, 1, 0), "refcount_5_18", "no_spurious_copy"),
])
def test_a_symbolic_counterexample_replays_on_the_explicit_world_at_the_count_z3_gives(world, policy, invariant):
    model = world.with_symbolic_refs().model(policy, [invariant])
    result = check(model, SearchOptions())
    assert result.verdict is Verdict.VIOLATED
    explicit_world, labels = model.explicit_counterpart(result.counterexample.labels())
    explicit = explicit_world.model(policy, [invariant])
    assert replay(explicit, invariant, labels).ok, labels


def test_the_maybe_pinned_false_positive_needs_1023_references_and_replays_with_them():
    """O16: no explicit run can reach it (S = 3 holds); the symbolic one finds it with the count z3 gives,
    and that counterexample replays on the explicit world with S = 1023."""
    path = ROOT / "specs" / "o16_maybe_pinned_false_positive.py"
    from modelcheck.spec import bind, load_spec

    loaded = bind(path, load_spec(path))
    model = loaded.world.model("page_count_fork_copy", loaded.spec.invariants)
    result = check(model, SearchOptions())
    assert result.verdict is Verdict.VIOLATED
    explicit_world, labels = model.explicit_counterpart(result.counterexample.labels())
    assert explicit_world.speculative == 1023 and labels.count("kernel spec_get(page 0)") == 1023
    explicit = explicit_world.model("page_count_fork_copy", loaded.spec.invariants)
    assert replay(explicit, "pin_checks_exact", labels).ok
    bounded = loaded.world.with_speculative(3).model("page_count_fork_copy", loaded.spec.invariants)
    assert check(bounded, SearchOptions(stop_at_first=False)).verdict is Verdict.HOLDS


def test_references_held_outside_are_one_number_for_the_whole_run():
    """Held unknowns keep what the steps learnt (an interval in the state): after a write fault reused
    the page (no references held), the next fault must reuse it too. Transient ones may differ per step."""
    world = CowWorld.scripted({"parent": ["mprotect_ro a0", "mprotect_rw a0", "store a0",
                                          "mprotect_ro a0", "mprotect_rw a0", "store a0", "load a0"]})
    held_model = world.with_unknown_holders(0).model("page_count", ["no_lost_write"])
    held = check(held_model, SearchOptions(stop_at_first=False))
    transient = check(world.with_symbolic_refs().model("page_count", ["no_lost_write"]),
                      SearchOptions(stop_at_first=False))
    assert held.verdict is transient.verdict is Verdict.HOLDS
    assert held.stats.transitions < transient.stats.transitions
    assert held.counts["spurious_copies"] == 0 < transient.counts["spurious_copies"]  # held references are real
    learnt = set()
    stack, seen = list(held_model.initial_states()), set()
    while stack:
        state = stack.pop()
        picture = held_model.state_to_json(state)["held_outside"]["h0"]
        learnt.add(None if picture is None else (picture["least"], picture["most"]))
        for _, after in held_model.successors(state):
            if after not in seen:
                seen.add(after)
                stack.append(after)
    assert {(0, None), (0, 0)} <= learnt  # before the first fault; after a reuse
    assert None in learnt  # after a copy the page is the scenario's no longer: the holder detaches


def test_an_unknown_answer_is_never_read_as_infeasible():
    """z3 under a resource limit answers unknown: the feasibility question raises instead of saying no."""
    from modelcheck.engine.symbolic.counts import Feasibility
    from modelcheck.engine.symbolic import SolverGaveUp

    hard = ((("u0", "u1"), "==", 1234567),)  # any question at all exceeds a limit of 1
    with pytest.raises(SolverGaveUp):
        Feasibility(resource_limit=1).feasible(hard)
    with pytest.raises(SolverGaveUp):
        Feasibility(resource_limit=1).witness(hard)
    with pytest.raises(SolverGaveUp):
        Feasibility(resource_limit=1).interval("u0", hard, ())
    assert Feasibility().feasible(hard)


def test_a_run_whose_solver_gives_up_is_incomplete_not_holds():
    world = CowWorld.scripted({"parent": ["mprotect_ro a0", "mprotect_rw a0", "store a0"]}).with_symbolic_refs()
    model = world.model("page_count", ["no_spurious_copy"])
    model.unknowns.feasibility.resource_limit = 1
    result = check(model, SearchOptions())
    assert result.verdict is Verdict.INCOMPLETE
    assert "z3 gave up" in result.incomplete_reason
