"""Ordering between threads and processes in the scripted scenario language: ``wait childN``, ``signal T``
and ``await T`` (as cow.c's wait() and pipes order its parent and child).

Each is enabled only once what it waits for has happened; every search respects that (its footprint reads
the slot it waits on); mistakes in a spec are refused when the scenario is built; a thread that awaits for
ever makes the run vacuous; traces of the specs that use them export as specs and as C programs."""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
from pathlib import Path

import pytest

from modelcheck.cow import CowWorld
from modelcheck.cow.c_program import era_policy
from modelcheck.cow.scenario import Scenario, ScenarioError
from modelcheck.engine import SearchOptions, Verdict, check
from modelcheck.faces.cli import main
from modelcheck.spec import bind, load_spec
from test_dpor_world import noncommuting

ROOT = Path(__file__).resolve().parents[1]
ORDERED_SPECS = ["c9b_ro_pin_after_sharer_exit", "c3b_vmsplice_child_ordered"]
GCC = shutil.which("gcc")


def enabled_actors(model, state) -> list[str]:
    return [model.action_label(act) for act, _ in model.successors(state) if act.actor != "kernel"]


def after(model, state, label: str):
    return next(t for act, t in model.successors(state) if model.action_label(act) == label)


def test_await_is_not_enabled_before_the_token_is_signalled():
    model = CowWorld.scripted({"parent": ["await go", "store a0"], "parent.2": ["signal go"]}).model(
        "page_count", ["no_lost_write"])
    start = model.initial_states()[0]
    assert enabled_actors(model, start) == ["parent.2 signal go"]
    assert model.step(start, ("thread", "parent")) == []
    signalled = after(model, start, "parent.2 signal go")
    assert enabled_actors(model, signalled) == ["parent await go"]


def test_wait_is_not_enabled_before_the_child_exits():
    model = CowWorld.scripted({"parent": ["fork", "wait child1", "store a0"], "child1": ["load a0", "exit"]}).model(
        "page_count", ["no_leak_to_child"])
    forked = after(model, model.initial_states()[0], "parent fork")
    assert enabled_actors(model, forked) == ["child1 load a0"]
    loaded = after(model, forked, "child1 load a0")
    assert enabled_actors(model, loaded) == ["child1 exit"]
    exited = after(model, loaded, "child1 exit")
    assert enabled_actors(model, exited) == ["parent wait child1"]


def test_footprints_see_the_slot_a_step_waits_on():
    """DPOR's footprints: a disabled await reads its token's slot, which the signal writes; a disabled wait
    reads the child's mm, which its exit writes."""
    model = CowWorld.scripted({"parent": ["fork", "await go", "wait child1"], "child1": ["signal go", "exit"]}).model(
        "page_count", ["no_leak_to_child"])
    L = model.layout
    token, child_mm = L.token_base, L.mm_base + 1
    forked = after(model, model.initial_states()[0], "parent fork")
    reads, _ = model.footprint(forked, ("thread", "parent"))
    assert token in reads
    _, writes = model.footprint(forked, ("thread", "child1"))
    assert token in writes
    signalled = after(model, after(model, forked, "child1 signal go"), "parent await go")
    reads, _ = model.footprint(signalled, ("thread", "parent"))
    assert child_mm in reads
    _, writes = model.footprint(signalled, ("thread", "child1"))
    assert child_mm in writes


def test_the_token_slots_make_footprints_honest(monkeypatch):
    """With the token slots in the footprints every pair of steps called independent commutes (DPOR's
    premise); without them the signal looks independent of the await it enables, and the check says so."""
    path = ROOT / "specs" / "c3b_vmsplice_child_ordered.py"
    loaded = bind(path, load_spec(path))
    model = loaded.world.model("mapcount", loaded.spec.invariants)
    assert noncommuting(model) == []
    honest = model.footprint
    tokens = set(range(model.layout.token_base, model.layout.token_base + len(loaded.world.scenario.tokens)))
    monkeypatch.setattr(model, "footprint", lambda s, key: tuple(part - tokens for part in honest(s, key)))
    assert any("signal child_ready enables" in problem for problem in noncommuting(model))


@pytest.mark.parametrize("name", ORDERED_SPECS)
def test_every_strategy_reaches_the_stated_verdicts(name):
    path = ROOT / "specs" / f"{name}.py"
    loaded = bind(path, load_spec(path))
    for policy in loaded.policies():
        model = loaded.world.model(policy, loaded.spec.invariants)
        bfs = check(model, SearchOptions(store="dict"))
        expected = loaded.spec.expect.get(policy)
        assert expected is None or bfs.verdict.value == expected, (name, policy)
        length = None if bfs.counterexample is None else len(bfs.counterexample)
        for strategy in ("dfs", "dpor"):
            assert check(model, SearchOptions(strategy=strategy)).verdict is bfs.verdict, (name, policy, strategy)
        bmc = check(model, SearchOptions(strategy="bmc", depth=bfs.stats.depth + 1))
        assert bmc.verdict is bfs.verdict and (None if bmc.counterexample is None else len(bmc.counterexample)) \
            == length, (name, policy)


@pytest.mark.parametrize("name", ORDERED_SPECS)
def test_symbolic_references_respect_the_ordering(name):
    """With any number of unknown references per step (z3 decides the refcount tests), the stated verdicts
    of the merged lines that look at the refcount still come out: the waits and awaits run as they do on
    explicit states."""
    path = ROOT / "specs" / f"{name}.py"
    loaded = bind(path, load_spec(path))
    world = loaded.world.with_symbolic_refs()
    for policy in ("mapcount", "page_count", "anon_exclusive"):
        verdict = check(world.model(policy, loaded.spec.invariants), SearchOptions()).verdict
        assert verdict.value == loaded.spec.expect[policy], (name, policy)


def test_the_previously_shared_page_differs_from_c9_under_the_mapcount_rule():
    """C9 (the child alive) is violated under mapcount, C9b (the child waited for) holds; page_count
    violates both."""
    results = {}
    for name in ("c9_ro_pin_shared", "c9b_ro_pin_after_sharer_exit"):
        path = ROOT / "specs" / f"{name}.py"
        loaded = bind(path, load_spec(path))
        results[name] = {p: check(loaded.world.model(p, loaded.spec.invariants), SearchOptions()).verdict
                         for p in ("mapcount", "page_count", "anon_exclusive")}
    assert results["c9_ro_pin_shared"]["mapcount"] is Verdict.VIOLATED
    assert results["c9b_ro_pin_after_sharer_exit"] == {"mapcount": Verdict.HOLDS, "page_count": Verdict.VIOLATED,
                                                       "anon_exclusive": Verdict.HOLDS}


@pytest.mark.parametrize("programs, needle", [
    ({"parent": ["await go"]}, "thread parent: 'await go' awaits token 'go', which no thread signals"),
    ({"parent": ["signal go", "fork"], "child1": ["signal go"]}, "thread child1: 'signal go': token 'go' is "
                                                                 "signalled twice (by parent and child1)"),
    ({"parent": ["await go", "signal go"]}, "'await go' (operation 1) awaits token 'go', which only its own "
                                            "operation 2 signals, later"),
    ({"parent": ["wait child1"]}, "thread parent: 'wait child1': the parent forks only 0 time(s)"),
    ({"parent": ["fork", "wait child1"], "child1": ["load a0"]}, "'wait child1': child1 never exits"),
    ({"parent": ["fork", "wait child2"], "child1": ["exit"]}, "'wait child2': the parent forks only 1 time(s)"),
    ({"parent": ["fork", "wait child1"], "parent.2": ["wait child1"], "child1": ["exit"]},
     "child1 is waited for twice (by parent and parent.2)"),
    ({"parent": ["fork"], "child1": ["wait child1", "exit"]}, "thread child1: 'wait child1': only the parent's "
                                                             "threads wait for a child"),
    ({"parent": ["wait parent"]}, "'parent' is not a child (child1, child2, ...)"),
    ({"parent": ["signal a0.1"]}, "'a0.1' is not a token name"),
    ({"parent": ["signal"]}, "signal takes the form 'signal T'"),
])
def test_mistakes_in_the_ordering_are_refused_when_built(programs, needle):
    with pytest.raises(ScenarioError) as err:
        Scenario.build(programs)
    assert needle in str(err.value) and "\n" not in str(err.value)


def test_a_refused_ordering_is_one_line_and_exit_2(tmp_path, capsys):
    spec = tmp_path / "bad.py"
    spec.write_text("from modelcheck import Spec\nfrom modelcheck.cow import CowWorld\n"
                    "SPEC = Spec(id='x', title='t', invariants=['no_leak_to_child'],\n"
                    "            world=lambda: CowWorld.scripted({'parent': ['fork', 'wait child1'], "
                    "'child1': ['load a0']}))\n")
    assert main([str(spec), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("modelcheck: ") and "'wait child1': child1 never exits" in err


@pytest.mark.parametrize("programs, never_finishes", [
    # each awaits the other's token first: both block for ever
    ({"parent": ["fork", "await b", "signal a"], "child1": ["await a", "signal b"]}, "end:parent"),
    # the token's signal comes after the child's exit, so it never comes
    ({"parent": ["fork", "await go", "store a0"], "child1": ["exit", "signal go"]}, "end:parent"),
])
def test_a_thread_blocked_for_ever_on_an_await_makes_the_run_vacuous(tmp_path, capsys, programs, never_finishes):
    spec = tmp_path / "stuck.py"
    spec.write_text("from modelcheck import Spec\nfrom modelcheck.cow import CowWorld\n"
                    "SPEC = Spec(id='x', title='t', invariants=['no_leak_to_child'],\n"
                    f"            world=lambda: CowWorld.scripted({programs!r}))\n")
    assert main([str(spec), "--quiet", "--policy", "anon_exclusive"]) == 1
    assert "VACUOUS: never fired " + never_finishes in capsys.readouterr().out


def traces(capsys, tmp_path: Path, spec: Path, policy: str) -> Path:
    out = tmp_path / f"{spec.stem}-{policy}.json"
    assert main([str(spec), "--policy", policy, "--quiet", "--trace-out", str(out)]) == 0
    capsys.readouterr()
    return out


@pytest.mark.parametrize("name, policy", [("c3b_vmsplice_child_ordered", "mapcount"),
                                          ("c9b_ro_pin_after_sharer_exit", "page_count")])
def test_a_trace_with_tokens_and_waits_exports_as_a_spec_that_finds_it_again(capsys, tmp_path, name, policy):
    trace_file = traces(capsys, tmp_path, ROOT / "specs" / f"{name}.py", policy)
    trace, = json.loads(trace_file.read_text())["traces"]
    exported = tmp_path / "exported.py"
    assert main(["export", str(trace_file), "--to", "spec", "--out", str(exported)]) == 0
    assert "await" in exported.read_text()
    capsys.readouterr()
    assert main([str(exported), "--policy", policy, "--json", "--quiet"]) == 0
    result, = json.loads(capsys.readouterr().out)["results"]
    assert result["verdict"] == "violated" and result["violation"]["property"] == trace["property"]
    assert [step["label"] for step in result["counterexample"]] == [step["label"] for step in trace["steps"]]


def c_source(capsys, tmp_path: Path, spec: Path, policy: str) -> str:
    out = tmp_path / f"{spec.stem}.c"
    assert main(["export", str(traces(capsys, tmp_path, spec, policy)), "--to", "c", "--out", str(out)]) == 0
    return out.read_text()


def test_the_c_reproducer_of_a_pin_ro_trace_names_only_the_pin_as_unsupported(capsys, tmp_path):
    source = c_source(capsys, tmp_path, ROOT / "specs" / "c9b_ro_pin_after_sharer_exit.py", "page_count")
    result = next(line for line in source.splitlines() if "RESULT %s unsupported" in line)
    assert "(pin_ro)" in result and "signal" not in result and "await" not in result and "wait" not in result


WAIT_THEN_WRITE = ("from modelcheck import Spec\nfrom modelcheck.cow import CowWorld\n"
                   "SPEC = Spec(id='W', title='wait for the child, then write the pinned page',\n"
                   "    world=lambda: CowWorld.scripted({'parent': ['pin_rw a0 -> buf', 'fork', 'signal go', "
                   "'wait child1', 'store a0', 'dma_read buf'], 'child1': ['await go', 'exit']}),\n"
                   "    invariants=['pin_coherent'], expect={'page_count': 'violated'})\n")


@pytest.mark.skipif(GCC is None and not os.environ.get("CI"), reason="no gcc (.ci/run installs it)")
@pytest.mark.skipif(platform.system() != "Linux", reason="the reproducers are Linux programs")
@pytest.mark.parametrize("spec_text, policy", [(None, "mapcount"), (WAIT_THEN_WRITE, "page_count")],
                         ids=["tokens", "wait"])
def test_the_c_reproducer_does_tokens_and_waits_and_agrees_with_the_era(capsys, tmp_path, spec_text, policy):
    """C3b in cow.c's order (tokens), and a wait for a child before the write of a pinned page: compiled and
    run on this kernel, the program reports the verdict the model gives the schedule under the era's policy
    (or unsupported, where the kernel lacks something it needs)."""
    spec = ROOT / "specs" / "c3b_vmsplice_child_ordered.py"
    if spec_text is not None:
        spec = tmp_path / "w.py"
        spec.write_text(spec_text)
    source = c_source(capsys, tmp_path, spec, policy)
    assert "do_await(" in source if spec_text is None else "do_wait(" in source
    binary = tmp_path / "reproducer"
    subprocess.run([GCC or "gcc", "-O1", "-Wall", "-Werror", "-o", str(binary), str(tmp_path / f"{spec.stem}.c")],
                   check=True, capture_output=True)
    run = subprocess.run([str(binary)], capture_output=True, text=True, timeout=60)
    result = next(line for line in run.stdout.splitlines() if line.startswith("RESULT "))
    verdict = result.split()[2]
    if verdict == "unsupported":
        return
    era = era_policy(platform.release())
    assert era is not None
    loaded = bind(spec, load_spec(spec))
    expected = check(loaded.world.model(era, loaded.spec.invariants), SearchOptions()).verdict.value
    assert verdict == expected, run.stdout
