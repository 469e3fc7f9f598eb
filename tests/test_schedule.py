"""A scenario's ``schedule``: the first steps of every execution in the order given, then every interleaving.

The spec export pins a trace's interleaving with it; here it is checked on its
own: what it leaves of the state graph, under every engine, with page symmetry
and symbolic references, and the mistakes it refuses.
"""

from __future__ import annotations

import pytest

from modelcheck.cow import CowWorld, WorldError
from modelcheck.engine import SearchOptions, Symmetric, Verdict, check

C3_SCENARIO = {"parent": ["fork", "store a0"], "child1": ["vmsplice a0", "store a0", "pipe_read"]}


def _search(world: CowWorld, policy: str = "mapcount", **options):
    return check(world.model(policy, ["no_leak_to_child"]), SearchOptions(**options))


def test_a_full_schedule_leaves_one_execution():
    schedule = ["parent", "child1", "child1", "parent", "child1"]
    pinned = _search(CowWorld.scripted(C3_SCENARIO, schedule=schedule), stop_at_first=False)
    free = _search(CowWorld.scripted(C3_SCENARIO), stop_at_first=False)
    assert pinned.stats.states == len(schedule) + 1 and pinned.stats.transitions == len(schedule)
    assert free.stats.states > pinned.stats.states
    assert pinned.verdict is Verdict.VIOLATED
    assert pinned.counterexample is not None
    assert pinned.counterexample.labels() == ["parent fork", "child1 vmsplice a0", "child1 store a0",
                                              "parent store a0", "child1 pipe_read"]


def test_after_the_schedule_every_interleaving_follows():
    """Only the fork is pinned: the search then finds the same shortest leak as the free scenario."""
    pinned = _search(CowWorld.scripted(C3_SCENARIO, schedule=["parent"]))
    free = _search(CowWorld.scripted(C3_SCENARIO))
    assert pinned.verdict is free.verdict is Verdict.VIOLATED
    assert pinned.counterexample is not None and free.counterexample is not None
    assert len(pinned.counterexample) == len(free.counterexample)


def test_a_schedule_whose_step_is_not_enabled_ends_the_execution_there():
    """The parent has two operations, not three: after them nothing can happen (the child never runs)."""
    result = _search(CowWorld.scripted(C3_SCENARIO, schedule=["parent", "parent", "parent", "child1"]),
                     stop_at_first=False)
    assert result.verdict is Verdict.HOLDS and (result.stats.states, result.stats.depth) == (3, 2)


def test_a_schedule_of_kernel_events_pins_their_page_and_turns_page_symmetry_off():
    programs = {"parent": ["mprotect_ro a0", "mprotect_rw a0", "store a0"]}
    world = CowWorld.scripted(programs, events=["spec"],
                              schedule=["kernel spec_get(page 0)", "parent", "parent", "parent"])
    model = world.model("page_count", ["no_spurious_copy"])
    assert not isinstance(model, Symmetric)
    assert isinstance(CowWorld.scripted(programs, schedule=["parent"]).model("page_count", ["no_spurious_copy"]),
                      Symmetric)
    result = check(model, SearchOptions())
    assert result.verdict is Verdict.VIOLATED and result.counterexample is not None
    assert result.counterexample.labels()[0] == "kernel spec_get(page 0)" and len(result.counterexample) == 4


def test_with_symbolic_references_the_speculative_steps_leave_the_schedule():
    world = CowWorld.scripted({"parent": ["mprotect_ro a0", "mprotect_rw a0", "store a0"]}, events=["spec"],
                              schedule=["kernel spec_get(page 0)", "parent", "parent", "parent"])
    symbolic = world.with_symbolic_refs()
    assert symbolic.scenario is not None and symbolic.scenario.schedule == (("thread", "parent"),) * 3
    result = check(symbolic.model("page_count", ["no_spurious_copy"]), SearchOptions())
    assert result.verdict is Verdict.VIOLATED and result.counterexample is not None
    assert len(result.counterexample) == 3


@pytest.mark.parametrize("strategy", ["dfs", "dpor", "bmc"])
def test_every_engine_keeps_to_the_schedule(strategy):
    schedule = ["parent", "child1", "child1", "parent", "child1"]
    options = {"strategy": strategy, "depth": 8} if strategy == "bmc" else {"strategy": strategy}
    result = _search(CowWorld.scripted(C3_SCENARIO, schedule=schedule), **options)
    assert result.verdict is Verdict.VIOLATED and result.counterexample is not None
    assert [label.split()[0] for label in result.counterexample.labels()] == schedule


@pytest.mark.parametrize("schedule, said", [
    ("parent", "must be a list"),
    (["child2"], "neither a thread of the scenario"),
    (["kernel spec_get(page 0)"], "needs the 'spec' event"),
    (["kernel reclaim(page 0)"], "unknown kernel event 'reclaim'"),
    ([3], "is not a thread name or a kernel event"),
])
def test_a_malformed_schedule_says_what_is_wrong(schedule, said):
    with pytest.raises(WorldError, match=said):
        CowWorld.scripted(C3_SCENARIO, schedule=schedule)


def test_a_schedule_naming_a_page_the_world_lacks_is_refused():
    with pytest.raises(WorldError, match="names page 9"):
        CowWorld.scripted(C3_SCENARIO, events=["spec"], schedule=["kernel spec_get(page 9)"])
