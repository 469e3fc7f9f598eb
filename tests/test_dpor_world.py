"""DPOR on the COW world: the scripted specs' verdicts with and without it, and the footprints it
relies on, checked against the world itself (steps called independent really commute)."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelcheck.cow import CowWorld
from modelcheck.engine import SearchOptions, Verdict, check, replay
from modelcheck.engine.strategies.dpor import Event, dependent
from modelcheck.engine.model import split_properties
from modelcheck.spec import bind, load_spec

ROOT = Path(__file__).resolve().parents[1]
SPECS = sorted((ROOT / "specs").glob("*.py"))


def by_property(result) -> set[str]:
    return {v.property for v in result.violations}


@pytest.mark.parametrize("path", SPECS, ids=[p.stem for p in SPECS])
def test_every_spec_same_verdicts_with_dpor(path):
    loaded = bind(path, load_spec(path))
    for policy in loaded.policies():
        model = loaded.world.model(policy, loaded.spec.invariants)
        full = check(model, SearchOptions(stop_at_first=False, store="dict"))
        reduced = check(model, SearchOptions(strategy="dpor", stop_at_first=False))
        assert reduced.verdict is full.verdict and by_property(reduced) == by_property(full), (path.stem, policy)
        assert reduced.stats.states <= full.stats.states
        if reduced.notes:  # it fell back: only where executions repeat a state, in an open world, or with
            # symbolic references (a step has a successor per outcome)
            assert loaded.world.scenario is None or loaded.world.symbolic_refs or loaded.world.held_unknown \
                or "finite executions" in reduced.notes[0]
            continue
        assert reduced.strategy == "dpor"
        for violation in reduced.violations:
            assert replay(model, violation.property, violation.trace.labels(),
                          recorded_states=[step.state for step in violation.trace.steps]).ok
        first = check(model, SearchOptions(strategy="dpor"))
        assert first.verdict is full.verdict


def noncommuting(model, limit: int = 5) -> list[str]:
    """Pairs of steps whose footprints say independent but that do not commute in the world, and
    disabled steps that an independent step enables; over every reachable state."""
    invariants, checks, _ = split_properties(model)
    problems: list[str] = []

    def verdicts(before, action, after):
        return tuple(c.holds(before, action, after) for c in checks if c.watches(action)) + \
            tuple(i.holds(after) for i in invariants)

    def steps_from(state):
        enabled = {model.step_key(a): (a, t) for a, t in model.successors(state)}
        return enabled, {k: Event(k, *enabled[k][:1], state, enabled[k][1], *map(frozenset, model.footprint(state, k)))
                         if k in enabled else Event(k, None, state, None, *map(frozenset, model.footprint(state, k)))
                         for k in model.step_keys()}

    seen = set(model.initial_states())
    stack = list(seen)
    while stack and len(problems) < limit:
        state = stack.pop()
        enabled, steps = steps_from(state)
        for x in (steps[k] for k in enabled):
            after_x, _ = steps_from(x.after)
            after_x = {model.step_key(a): (a, t) for a, t in model.successors(x.after)}
            for y in steps.values():
                if y is x or dependent(x, y):
                    continue
                if y.action is None:  # disabled, and x does not touch what its test read: still disabled
                    if y.key in after_x:
                        problems.append(f"{model.action_label(x.action)} enables {y.key}")
                    continue
                after_y = {model.step_key(a): (a, t) for a, t in model.successors(y.after)}
                xy, yx = after_x.get(y.key), after_y.get(x.key)
                if xy is None or yx is None or xy[0] != y.action or yx[0] != x.action or xy[1] != yx[1] \
                        or verdicts(x.after, *xy) != verdicts(state, y.action, y.after) \
                        or verdicts(y.after, *yx) != verdicts(state, x.action, x.after):
                    problems.append(f"{model.action_label(x.action)} and {model.action_label(y.action)}")
        for _, after in enabled.values():
            if after not in seen:
                seen.add(after)
                stack.append(after)
    return problems


SCRIPTED = [p for p in SPECS if bind(p, load_spec(p)).world.scenario is not None
            and not bind(p, load_spec(p)).world.symbolic_refs and not bind(p, load_spec(p)).world.held_unknown]


@pytest.mark.parametrize("path", SCRIPTED, ids=[p.stem for p in SCRIPTED])
def test_steps_with_independent_footprints_commute(path):
    loaded = bind(path, load_spec(path))
    for policy in ("page_count", "anon_exclusive"):
        assert noncommuting(loaded.world.model(policy, loaded.spec.invariants)) == [], (path.stem, policy)


@pytest.mark.parametrize("events", [["lru"], pytest.param(["lru", "swap"], marks=pytest.mark.slow)])
def test_a_scenario_with_background_events_commutes_and_agrees(events):
    world = CowWorld.scripted({"parent": ["fork", "store a0", "load a1"], "child1": ["load a0", "store a1"]},
                              events=events)
    for policy in ("mapcount", "page_count", "anon_exclusive"):
        model = world.model(policy, ["no_leak_across_fork", "no_lost_write", "refcount_sane"])
        assert noncommuting(model) == []
        full = check(model, SearchOptions(stop_at_first=False))
        reduced = check(model, SearchOptions(strategy="dpor", stop_at_first=False))
        assert reduced.verdict is not Verdict.INCOMPLETE and by_property(reduced) == by_property(full), policy


def test_the_commutation_check_catches_a_footprint_that_forgets_writes(monkeypatch):
    """A footprint that names only the program counters it writes calls a store and another thread's load
    of the same page independent: the check finds pairs that do not commute, and DPOR then misses a leak."""
    world = CowWorld.scripted({"parent": ["fork", "store a0"], "child1": ["vmsplice a0", "munmap a0", "pipe_read"]})
    model = world.model("mapcount", ["no_leak_to_child"])
    honest = model.footprint
    counters = set(range(model.layout.pc_base, model.layout.pc_base + 2))
    monkeypatch.setattr(model, "footprint", lambda s, key: (honest(s, key)[0], honest(s, key)[1] & counters))
    assert noncommuting(model) != []
    assert check(model, SearchOptions(strategy="dpor")).verdict is Verdict.HOLDS
    assert check(model, SearchOptions()).verdict is Verdict.VIOLATED
