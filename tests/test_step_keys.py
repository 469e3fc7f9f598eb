"""Step keys: each key's step is what ``successors`` lists for that key, and the keys together list it all.

Every world without symbolic references offers them (open worlds too: a key per
operation of a process on an address, a pipe read per process, the fork, and
each kernel event per page); a search decides what to do with them. The
bounded model checker runs on an open world and agrees with breadth-first
search.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from modelcheck.cow import CowWorld
from modelcheck.cow.policies import policy_names
from modelcheck.engine import SearchOptions, check
from modelcheck.engine.model import StepKeyed
from modelcheck.spec import bind, load_spec

ROOT = Path(__file__).resolve().parents[1]
SPECS = sorted((ROOT / "specs").glob("*.py"))
POLICIES = ("mapcount", "page_count", "anon_exclusive")


def reachable(model) -> list[tuple]:
    seen = set(model.initial_states())
    frontier = list(seen)
    while frontier:
        frontier = [t for s in frontier for _, t in model.successors(s) if t not in seen and not seen.add(t)]
    return list(seen)


def key_mismatches(model, limit: int = 5) -> list[str]:
    """States where a key's step is not what ``successors`` lists for that key, in its order, or where the
    keys' steps together are not ``successors``."""
    keys = model.step_keys()
    assert len(set(keys)) == len(keys)
    problems: list[str] = []
    for state in reachable(model):
        listed = model.successors(state)
        union = []
        for key in keys:
            stepped = model.step(state, key)
            if len(stepped) > 1 or stepped != [(a, t) for a, t in listed if model.step_key(a) == key]:
                problems.append(f"{key}: {[model.action_label(a) for a, _ in stepped]}")
            union += stepped
        if set(union) != set(listed) or len(union) != len(listed):
            problems.append(f"keys list {len(union)} steps, successors {len(listed)}")
        if len(problems) >= limit:
            break
    return problems


OPEN = [(2, 1, 0), (2, 1, 1), pytest.param((2, 2, 1), marks=pytest.mark.slow)]


@pytest.mark.parametrize("point", OPEN)
@pytest.mark.parametrize("policy", POLICIES)
def test_each_key_of_an_open_world_steps_as_successors_do(point, policy):
    model = CowWorld.reference(*point).model(policy, ["no_leak_across_fork", "no_spurious_copy"])
    assert isinstance(model, StepKeyed)
    assert key_mismatches(model) == []


def test_an_open_world_with_a_few_actions_has_keys_for_those_only():
    model = CowWorld(processes=2, addresses=1, actions=frozenset({"write", "fork", "spec_get"}), speculative=1) \
        .model("page_count", ["no_leak_across_fork"])
    assert model.step_keys() == [("write", 0, 0), ("write", 1, 0), ("fork", 0, -1)] + \
        [("spec_get", g) for g in range(model.layout.pages)]
    assert key_mismatches(model) == []


SCRIPTED = [p for p in SPECS if bind(p, load_spec(p)).world.scenario is not None
            and not bind(p, load_spec(p)).world.symbolic_refs and not bind(p, load_spec(p)).world.held_unknown]


@pytest.mark.parametrize("path", SCRIPTED, ids=[p.stem for p in SCRIPTED])
def test_each_key_of_a_scenario_steps_as_successors_do(path):
    loaded = bind(path, load_spec(path))
    for policy in POLICIES:
        assert key_mismatches(loaded.world.model(policy, loaded.spec.invariants)) == [], policy


def test_symbolic_references_offer_no_step_keys():
    """One step there has a successor per outcome of z3's tests: a key's step is not one transition."""
    assert not isinstance(CowWorld.reference(2, 1, 0).with_symbolic_refs().model("page_count", []), StepKeyed)


def _vmsplice_bmc_agrees(policy: str) -> None:
    path = ROOT / "specs" / "vmsplice.py"
    loaded = bind(path, load_spec(path))
    assert loaded.world.scenario is None  # an open world
    model = loaded.world.model(policy, ["no_leak_to_child"])
    bfs = check(model, SearchOptions(store="dict"))
    bmc = check(model, SearchOptions(strategy="bmc", depth=12))
    assert bmc.strategy == "bmc" and bmc.verdict is bfs.verdict, (policy, bmc.incomplete_reason)
    lengths = [None if r.counterexample is None else len(r.counterexample) for r in (bfs, bmc)]
    assert lengths[0] == lengths[1], policy


def test_the_bounded_model_checker_runs_on_an_open_world():
    _vmsplice_bmc_agrees("mapcount")


@pytest.mark.slow
@pytest.mark.parametrize("policy", policy_names())
def test_the_bounded_model_checker_agrees_on_the_open_vmsplice_world_under_every_policy(policy):
    _vmsplice_bmc_agrees(policy)
