"""--minimize: counterexamples of searches without a shortest-first guarantee shrunk to shortest ones.

Depth-first search on C3 (vmsplice.py under mapcount) and on the reference world finds longer traces than
breadth-first search; minimized, they have the breadth-first length, replay, and say what they were. Then a
Hypothesis suite over random thread programs: a minimized trace is never longer than the one found, violates
the same property, and is as short as breadth-first search's.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelcheck.engine import SearchOptions, check, replay
from modelcheck.engine.minimize import minimize_trace
from modelcheck.faces.cli import main
from modelcheck.spec import bind, load_spec
from toy_models import Counter, Programs

ROOT = Path(__file__).resolve().parents[1]


def world_model(spec: str, policy: str, params: list[str]):
    loaded = bind(ROOT / spec, load_spec(ROOT / spec), params)
    return loaded.world.model(policy, tuple(loaded.spec.invariants))


@pytest.mark.parametrize("spec, policy, params", [
    ("specs/vmsplice.py", "mapcount", []),
    ("specs/reference.py", "mapcount", ["P=2", "M=1", "S=0"]),
    ("specs/reference.py", "gup_cow_break", ["P=2", "M=2", "S=0"]),
], ids=["c3", "reference", "reference-m2"])
def test_depth_first_traces_minimize_to_the_breadth_first_length(spec, policy, params):
    model = world_model(spec, policy, params)
    shortest = len(check(model, SearchOptions()).counterexample)
    found = check(model, SearchOptions(strategy="dfs")).counterexample
    assert len(found) > shortest  # otherwise this test shows nothing
    result = check(model, SearchOptions(strategy="dfs", minimize=True))
    trace = result.counterexample
    assert len(trace) == shortest and trace.property == found.property
    assert trace.minimized is not None and trace.minimized.original == len(found) and trace.minimized.shortest
    assert f"minimized the counterexample of {found.property} from {len(found)} to {shortest} steps" \
        in " ".join(result.notes)
    assert replay(model, trace.property, trace.labels(), trace.initial_state,
                  [step.state for step in trace.steps]).ok


def test_a_minimized_c3_trace_file_replays_and_says_so(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    traces, result = tmp_path / "c3.json", tmp_path / "c3-result.json"
    code = main(["specs/vmsplice.py", "--policy", "mapcount", "--dfs", "--minimize", "--quiet", "--no-timing",
                 "--trace-out", str(traces)])
    out = capsys.readouterr().out
    assert code == 0
    assert "shortest counterexample of 5 steps (minimized from 11 found by depth-first search)" in out
    assert "minimized the counterexample of no_leak_to_child from 11 to 5 steps" in out
    record = json.loads(traces.read_text())["traces"][0]
    assert len(record["steps"]) == 5 and record["minimized"] == {"from": 11, "shortest": True, "actors": []}
    assert main(["replay", str(traces), "--spec", "specs/vmsplice.py", "--quiet"]) == 0
    assert "replays; no_leak_to_child violated at step 5" in capsys.readouterr().out
    assert main(["specs/vmsplice.py", "--policy", "mapcount", "--dfs", "--minimize", "--quiet", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)["results"][0]
    assert document["counterexample_length"] == 5
    assert document["counterexample_minimized"] == {"from": 11, "shortest": True, "actors": []}
    assert document["violations"][0]["minimized"]["from"] == 11


def test_random_walks_minimize_too():
    model = world_model("specs/vmsplice.py", "mapcount", [])
    walked = check(model, SearchOptions(strategy="simulate", settings=(("seed", 3),))).counterexample
    trace = check(model, SearchOptions(strategy="simulate", settings=(("seed", 3),), minimize=True)).counterexample
    assert len(walked) > 5 and len(trace) == 5 and trace.minimized.original == len(walked)


def test_breadth_first_traces_are_left_alone():
    model = world_model("specs/vmsplice.py", "mapcount", [])
    result = check(model, SearchOptions(minimize=True))
    assert result.counterexample.minimized is None and len(result.counterexample) == 5
    assert "--minimize: breadth-first search finds shortest counterexamples already" in result.notes


def test_a_bounded_search_out_of_room_keeps_what_delta_debugging_left(monkeypatch):
    """A long, straight trace: delta debugging cannot drop a step of it, and the bounded search's budget
    runs out before it shows that none is shorter: the trace is kept, not called shortest."""
    from modelcheck.engine import minimize

    model = Counter(40, forbidden=40)
    found = check(model, SearchOptions(strategy="dfs")).counterexample
    monkeypatch.setattr(minimize, "SEARCH_BUDGET", 10)
    shrunk = minimize_trace(model, found, SearchOptions(strategy="dfs"))
    assert len(shrunk.trace) == 40 and shrunk.trace.minimized is not None
    assert not shrunk.trace.minimized.shortest
    assert "could not be shortened (a shorter one may exist: the bounded search stopped at 10 states)" \
        in shrunk.note


def test_with_the_time_limit_past_minimizing_keeps_the_trace_as_found():
    model = world_model("specs/vmsplice.py", "mapcount", [])
    found = check(model, SearchOptions(strategy="dfs")).counterexample
    shrunk = minimize_trace(model, found, SearchOptions(strategy="dfs", time_limit=0.001), started=0.0)
    assert len(shrunk.trace) <= len(found)
    assert shrunk.trace.minimized is None or not shrunk.trace.minimized.shortest


# -- the property: never longer, the same property, as short as breadth-first ---------------------------------

OPS = st.one_of(
    st.tuples(st.just("write"), st.integers(0, 2), st.integers(0, 2)),
    st.tuples(st.just("copy"), st.integers(0, 2), st.just(1), st.integers(0, 2)),
)


@st.composite
def programs(draw):
    """Two or three threads of up to five writes and copies over three variables, a forbidden picture of the
    variables and a read no copy may make."""
    threads = draw(st.lists(st.lists(OPS, min_size=1, max_size=5), min_size=2, max_size=3))
    forbidden = tuple(draw(st.lists(st.one_of(st.none(), st.integers(0, 2)), min_size=3, max_size=3)))
    watch = draw(st.one_of(st.none(), st.tuples(st.integers(0, 2), st.integers(1, 2))))
    if all(want is None for want in forbidden):
        forbidden = None
    return Programs(threads, 3, forbidden=forbidden, read_watch=watch)


@settings(max_examples=60)
@given(model=programs(), strategy=st.sampled_from(["dfs", "simulate", "dpor"]), seed=st.integers(0, 2**16))
def test_a_minimized_trace_is_never_longer_and_violates_the_same_property(model, strategy, seed):
    options = SearchOptions(strategy=strategy, settings=(("seed", seed),) if strategy == "simulate" else ())
    found = check(model, options)
    if not found.violations:
        return
    shortest = {v.property: len(v.trace) for v in check(model, SearchOptions(stop_at_first=False)).violations}
    for violation in found.violations:
        shrunk = minimize_trace(model, violation.trace, options).trace
        assert len(shrunk) <= len(violation.trace)
        assert shrunk.property == violation.trace.property
        assert len(shrunk) == shortest[shrunk.property]
        if len(shrunk):  # (an initial state that violates it has a trace of no steps, which is not replayed)
            assert replay(model, shrunk.property, shrunk.labels(), shrunk.initial_state).ok
