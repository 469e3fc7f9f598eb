"""Reductions never change a verdict: every spec and reference grid point, with and without them.

The differential check can fail: a deliberately unsound reduction (one that
forgets the pipes when it picks a representative) is caught below.
"""

from pathlib import Path

import pytest

from modelcheck.cow import CowWorld
from modelcheck.engine import SearchOptions, check
from modelcheck.faces.cli import main
from modelcheck.spec import bind, load_spec

ROOT = Path(__file__).resolve().parents[1]
SPECS = sorted((ROOT / "specs").glob("*.py"))
GRID = [(1, 1, 0), (2, 1, 0), (2, 2, 0), (3, 1, 0), (3, 1, 1),
        pytest.param((2, 2, 1), marks=pytest.mark.slow)]


def differences(model, **options) -> list[str]:
    """Where the reduced search disagrees with the full one: verdict, or shortest counterexample length.

    Both runs use the dict store, so that the states each explored differ by the reduction alone.
    """
    options.setdefault("store", "dict")
    plain = check(model, SearchOptions(**options))
    reduced = check(model, SearchOptions(reduce=True, **options))
    found = []
    if plain.verdict != reduced.verdict:
        found.append(f"verdict {plain.verdict.value} vs {reduced.verdict.value}")
    lengths = [None if r.counterexample is None else len(r.counterexample) for r in (plain, reduced)]
    if lengths[0] != lengths[1]:
        found.append(f"shortest counterexample {lengths[0]} vs {lengths[1]}")
    if reduced.stats.states > plain.stats.states:
        found.append(f"the reduction explored more states ({reduced.stats.states} > {plain.stats.states})")
    return found


@pytest.mark.parametrize("path", SPECS, ids=[p.stem for p in SPECS])
def test_every_spec_same_verdicts_and_lengths_with_symmetry(path):
    loaded = bind(path, load_spec(path))
    for policy in loaded.policies():
        model = loaded.world.model(policy, loaded.spec.invariants)
        assert differences(model) == [], (loaded.spec.id, policy)


@pytest.mark.parametrize("point", GRID)
def test_reference_grid_same_verdicts_with_symmetry(point):
    for policy in ("mapcount", "page_count"):
        model = CowWorld.reference(*point).model(policy, ["no_leak_across_fork"])
        assert differences(model) == [], (point, policy)
        assert differences(model, stop_at_first=False) == [], (point, policy)


@pytest.mark.parametrize("point, policy", [((2, 2, 0), "page_count"), ((3, 1, 1), "mapcount"),
                                           pytest.param((2, 2, 1), "page_count", marks=pytest.mark.slow)])
def test_reduced_search_keeps_exactly_one_representative_per_orbit(point, policy):
    model = CowWorld.reference(*point).model(policy, ["no_leak_across_fork"])
    full = check(model, SearchOptions(stop_at_first=False))
    seen, frontier = set(model.initial_states()), list(model.initial_states())
    while frontier:  # the full reachable set, rebuilt here so the orbit count is independent of the engine
        frontier = [t for s in frontier for _, t in model.successors(s) if t not in seen and not seen.add(t)]
    assert len(seen) == full.stats.states
    reduced = check(model, SearchOptions(stop_at_first=False, reduce=True))
    assert reduced.stats.states == len({model.canonical(s) for s in seen}) < full.stats.states


def test_canonical_form_is_the_same_for_every_renaming():
    model = CowWorld.reference(2, 2, 1).model("page_count", ["no_leak_across_fork"])
    seen, frontier = set(model.initial_states()), list(model.initial_states())
    for _ in range(5):
        frontier = [t for s in frontier for _, t in model.successors(s) if t not in seen and not seen.add(t)]
    L = model.layout
    swapped = 0
    for s in seen:  # rename pages 0 and 1 by hand: the representative must not change
        live = [g for g in range(L.pages) if s[L.value_base + g]]
        if len(live) < 2:
            continue
        a, b = live[0], live[1]
        ren = {a: b, b: a}
        t = list(s)
        for i in range(L.pte_base, L.pipe_base):
            if s[i] and (s[i] >> 5) - 1 in ren:
                t[i] = ((ren[(s[i] >> 5) - 1] + 1) << 5) | (s[i] & 31)
        for i in range(L.pipe_base, L.value_base):
            if s[i] and s[i] - 1 in ren:
                t[i] = ren[s[i] - 1] + 1
        for base in (L.value_base, L.spec_base):
            t[base + a], t[base + b] = s[base + b], s[base + a]
        assert model.canonical(tuple(t)) == model.canonical(s)
        swapped += 1
    assert swapped > 100


def test_the_differential_check_catches_an_unsound_reduction(monkeypatch):
    model = CowWorld.reference(2, 1, 0).model("mapcount", ["no_leak_across_fork"])
    L = model.layout
    sound = model.canonical

    def forgets_pipes(state):  # merges states that differ in what the pipes hold: unsound
        t = list(sound(state))
        t[L.pipe_base:L.value_base] = [0] * (L.value_base - L.pipe_base)
        return tuple(t)

    monkeypatch.setattr(model, "canonical", forgets_pipes)
    assert differences(model) != []


def test_reduced_traces_replay(tmp_path, capsys):
    traces = tmp_path / "traces.json"
    for spec in ("o8_uffd_wp_stale_tlb.py", "c12a_vmsplice_child_swapped.py", "reference.py"):
        assert main([str(ROOT / "specs" / spec), "--quiet", "--reduce", "--trace-out", str(traces)]) == 0
        capsys.readouterr()
        assert main(["replay", str(traces), "--trust-spec", "--quiet"]) == 0, capsys.readouterr().out


def test_reduce_flag_reports_representatives(capsys):
    assert main([str(ROOT / "specs" / "reference.py"), "--param", "M=2", "--policy", "page_count", "--no-stop",
                 "--reduce", "--json", "--quiet"]) == 0
    import json
    doc = json.loads(capsys.readouterr().out)
    assert doc["results"][0]["reductions"] == ["symmetry"] and doc["results"][0]["states"] == 1335
