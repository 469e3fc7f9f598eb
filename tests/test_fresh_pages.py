"""Fresh pages: addresses that start untouched, their first-touch faults, and the shared zero page.

A read fault on an untouched address maps the zero page read-only (no anonymous
page, never counted, never freed, never reused); a write fault maps a fresh
exclusive page in the LRU add batch; a write fault on the zero page maps a
fresh page in its place. The specs O10b-fresh-lru and C17-zero under every
policy and strategy, the refusals, symmetry, the spec export and the C program.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
from pathlib import Path

import pytest

from modelcheck.cow import CowWorld
from modelcheck.cow.batch_scope import batch_applies
from modelcheck.cow.c_program import era_policy
from modelcheck.cow.layout import PAGE_EXCLUSIVE, PAGE_LRU_BATCH, PTE_WRITE, pte_page
from modelcheck.cow.mechanisms.memory import info
from modelcheck.cow.policies import policy_names
from modelcheck.cow.scenario import Scenario, ScenarioError
from modelcheck.engine import SearchOptions, check
from modelcheck.faces.cli import main
from modelcheck.spec import bind, load_spec

ROOT = Path(__file__).resolve().parents[1]
FRESH_SPECS = ("o10b_fresh_page_lru", "c17_zero_page")
GCC = shutil.which("gcc")


def step(model, state, label: str):
    """The successor of ``state`` by the action labelled ``label``, and its action."""
    found = [(act, after) for act, after in model.successors(state) if model.action_label(act) == label]
    assert found, (label, [model.action_label(a) for a, _ in model.successors(state)])
    return found[0]


def run(model, *labels: str):
    state = model.initial_states()[0]
    acts = []
    for label in labels:
        act, state = step(model, state, label)
        acts.append(act)
    return state, acts


def reachable(model) -> list[tuple]:
    seen, todo = {model.initial_states()[0]}, [model.initial_states()[0]]
    while todo:
        for _, after in model.successors(todo.pop()):
            if after not in seen:
                seen.add(after)
                todo.append(after)
    return list(seen)


def fresh_world(programs, events=("lru",)):
    return CowWorld.scripted(programs, events=list(events), fresh=["a0"])


# -- the faults ----------------------------------------------------------------------------------------------

def test_a_read_fault_maps_the_zero_page_read_only_and_counts_no_anonymous_page():
    model = fresh_world({"parent": ["load a0"]}).model("anon_exclusive", ["no_leak_to_child"])
    L, zero = model.layout, model.kernel.zero_page
    start = model.initial_states()[0]
    assert start[L.pte_index(0, 0)] == 0 and zero == L.pages - 1
    assert all(not start[L.value_index(g)] for g in range(L.pages - 1))  # no anonymous page yet
    state, (act,) = run(model, "parent load a0")
    assert act.branch == "zero_map+read"
    pte = state[L.pte_index(0, 0)]
    assert pte_page(pte) == zero and not pte & PTE_WRITE
    assert state[L.flags_base + zero] == 0  # not exclusive, in no batch
    assert model.state_to_json(state)["processes"]["parent"]["pte"]["a0"] == {"zero_page": True, "writable": False}
    assert model.state_to_json(state)["pages"] == {}
    assert "zero" in model.state_summary(state) and "observes (0,0) [initial contents] on the zero page" in \
        " ".join(model.describe_transition(start, act, state))


def test_a_write_fault_maps_a_fresh_exclusive_page_in_the_lru_batch():
    for policy, exclusive in (("anon_exclusive", True), ("page_count", False)):
        model = fresh_world({"parent": ["store a0"]}).model(policy, ["no_spurious_copy"])
        L = model.layout
        state, (act,) = run(model, "parent store a0")
        assert act.branch == "anon_fault"
        pte = state[L.pte_index(0, 0)]
        page = pte_page(pte)
        assert pte & PTE_WRITE and page != model.kernel.zero_page
        flags = state[L.flags_base + page]
        assert bool(flags & PAGE_EXCLUSIVE) is exclusive and flags & PAGE_LRU_BATCH, policy
        assert (info(model.kernel, state, page).mapcount, info(model.kernel, state, page).refcount) == (1, 2)
    without_lru = fresh_world({"parent": ["store a0"]}, events=()).model("anon_exclusive", ["no_spurious_copy"])
    state, _ = run(without_lru, "parent store a0")
    page = pte_page(state[without_lru.layout.pte_index(0, 0)])
    assert state[without_lru.layout.flags_base + page] == PAGE_EXCLUSIVE


def test_a_write_fault_on_the_zero_page_maps_a_fresh_page_and_asks_no_policy():
    model = fresh_world({"parent": ["load a0", "store a0"]}).model("page_count", ["no_spurious_copy"])
    L, zero = model.layout, model.kernel.zero_page
    state, (_, act) = run(model, "parent load a0", "parent store a0")
    assert act.branch == "zero_copy"
    page = pte_page(state[L.pte_index(0, 0)])
    assert page != zero and state[L.pte_index(0, 0)] & PTE_WRITE
    assert state[L.value_index(zero)] == model.tags.code(0, 0)  # the zero page is untouched and still there
    assert not {"copy", "reuse"} & set(act.branch.split("+"))  # no do_wp_page decision: always a fresh page


def test_fork_shares_the_zero_page_pte_and_exit_never_frees_it():
    model = fresh_world({"parent": ["load a0", "fork"], "child1": ["exit"]}).model("mapcount", ["refcount_sane"])
    L, zero = model.layout, model.kernel.zero_page
    state, (_, fork, _) = run(model, "parent load a0", "parent fork", "child1 exit")
    assert fork.branch == "fork_share"
    assert pte_page(state[L.pte_index(0, 0)]) == zero
    assert state[L.value_index(zero)]  # still live after child1's mapping went


def test_mprotect_never_makes_the_zero_page_writable():
    """From 6.0 mprotect(RW) upgrades an exclusive anonymous PTE at once; the zero page is none."""
    model = fresh_world({"parent": ["load a0", "mprotect_ro a0", "mprotect_rw a0"]}).model(
        "mainline_7_3", ["no_spurious_copy"])
    state, acts = run(model, "parent load a0", "parent mprotect_ro a0", "parent mprotect_rw a0")
    assert acts[-1].branch == "mprotect_rw" and not state[model.layout.pte_index(0, 0)] & PTE_WRITE


@pytest.mark.parametrize("policy", policy_names())
def test_the_zero_page_is_never_written_reused_or_counted(policy):
    """In every reachable state of C17-zero: the zero page holds zeros, has no page flags, and every PTE of it is
    read-only; no anonymous page shares a slot with it."""
    path = ROOT / "specs" / "c17_zero_page.py"
    loaded = bind(path, load_spec(path))
    model = loaded.world.model(policy, loaded.spec.invariants)
    L, zero, zeros = model.layout, model.kernel.zero_page, model.tags.code(0, 0)
    states = reachable(model)
    assert len(states) > 10
    for s in states:
        assert s[L.value_index(zero)] == zeros and s[L.flags_base + zero] == 0 if L.features.pageflags else True
        for p in range(L.processes):
            pte = s[L.pte_index(p, 0)]
            if pte and pte_page(pte) == zero:
                assert not pte & PTE_WRITE


# -- the specs, under every policy and strategy --------------------------------------------------------------

@pytest.mark.parametrize("name", FRESH_SPECS)
def test_every_strategy_reaches_the_stated_verdicts(name):
    path = ROOT / "specs" / f"{name}.py"
    loaded = bind(path, load_spec(path))
    assert set(loaded.spec.expect) <= set(policy_names())
    for policy in policy_names():
        model = loaded.world.model(policy, loaded.spec.invariants)
        bfs = check(model, SearchOptions(store="dict"))
        expected = loaded.spec.expect.get(policy)
        assert expected is None or bfs.verdict.value == expected, (name, policy)
        length = None if bfs.counterexample is None else len(bfs.counterexample)
        for options in (SearchOptions(strategy="dfs"), SearchOptions(strategy="dpor"), SearchOptions(reduce=True)):
            assert check(model, options).verdict is bfs.verdict, (name, policy, options)
        bmc = check(model, SearchOptions(strategy="bmc", depth=bfs.stats.depth + 1))
        assert bmc.verdict is bfs.verdict and (None if bmc.counterexample is None else len(bmc.counterexample)) \
            == length, (name, policy)


def test_o10b_is_o10_lru_without_the_fork():
    """The same verdicts as O10-lru under every policy: the page_count rule's spurious copy needs no fork."""
    verdicts = {}
    for name in ("o10_lru_batch", "o10b_fresh_page_lru"):
        path = ROOT / "specs" / f"{name}.py"
        loaded = bind(path, load_spec(path))
        verdicts[name] = {p: check(loaded.world.model(p, loaded.spec.invariants), SearchOptions()).verdict
                          for p in policy_names()}
    assert verdicts["o10_lru_batch"] == verdicts["o10b_fresh_page_lru"]


# -- refusals, fall-backs ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("programs, kwargs, needle", [
    ({"parent": ["get_ro a0 -> h"]}, {}, "a world with fresh addresses models only"),
    ({"parent": ["munmap a0"]}, {}, "a world with fresh addresses models only"),
    ({"parent": ["store a0"]}, {"events": ["spec"]}, "only the kernel event(s) lru and no TLBs"),
    ({"parent": ["store a0"]}, {"tlb": True}, "only the kernel event(s) lru and no TLBs"),
    ({"parent": ["store a0"]}, {"fresh": ["a1"]}, "fresh: a1 is not an address of the world"),
    ({"parent": ["store a0"]}, {"fresh": ["b0"]}, "fresh: 'b0' is not an address"),
    ({"parent": ["store a0"]}, {"fresh": "a0"}, "write ['a0']"),
])
def test_what_fresh_pages_do_not_model_is_refused_in_one_line(programs, kwargs, needle):
    kwargs = {"fresh": ["a0"], **kwargs}
    with pytest.raises(ScenarioError) as err:
        Scenario.build(programs, **kwargs)
    assert needle in str(err.value) and "\n" not in str(err.value)


def test_a_refused_fresh_world_is_one_line_and_exit_2(tmp_path, capsys):
    spec = tmp_path / "bad.py"
    spec.write_text("from modelcheck import Spec\nfrom modelcheck.cow import CowWorld\n"
                    "SPEC = Spec(id='x', title='t', invariants=['no_leak_to_child'],\n"
                    "            world=lambda: CowWorld.scripted({'parent': ['vmsplice a0']}, fresh=['a0']))\n")
    assert main([str(spec), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("modelcheck: ") and "fresh addresses" in err


def test_the_batch_form_does_not_serve_a_fresh_world():
    world = fresh_world({"parent": ["store a0"]})
    model = world.model("page_count", ["no_spurious_copy"])
    assert not batch_applies(model.kernel, model.policy, frozenset({"no_spurious_copy"}))


def test_symmetry_keeps_the_zero_page_in_its_slot():
    """Renaming page slots never moves the zero page; a state is its representative's representative."""
    path = ROOT / "specs" / "c17_zero_page.py"
    loaded = bind(path, load_spec(path))
    model = loaded.world.model("page_count", loaded.spec.invariants)
    L, zero = model.layout, model.kernel.zero_page
    moved = 0
    for s in reachable(model):
        canonical = model.symmetry.canonical(s)
        assert model.symmetry.canonical(canonical) == canonical
        assert canonical[L.value_index(zero)] == s[L.value_index(zero)]
        zero_ptes = [i for i in range(L.pte_base, L.pipe_base) if s[i] and pte_page(s[i]) == zero]
        assert [i for i in range(L.pte_base, L.pipe_base) if canonical[i] and pte_page(canonical[i]) == zero] \
            == zero_ptes
        moved += canonical != s
    assert moved  # some states are renamed (a child's page in the lower slot)


# -- the spec export and the C program ---------------------------------------------------------------------------

def traces(capsys, tmp_path: Path, spec: Path, policy: str) -> Path:
    out = tmp_path / f"{spec.stem}-{policy}.json"
    assert main([str(spec), "--policy", policy, "--quiet", "--trace-out", str(out)]) == 0
    capsys.readouterr()
    return out


def test_a_fresh_page_trace_exports_as_a_spec_that_finds_it_again(capsys, tmp_path):
    trace_file = traces(capsys, tmp_path, ROOT / "specs" / "o10b_fresh_page_lru.py", "page_count")
    trace, = json.loads(trace_file.read_text())["traces"]
    assert trace["world_settings"]["fresh"] == ["a0"]
    exported = tmp_path / "exported.py"
    assert main(["export", str(trace_file), "--to", "spec", "--out", str(exported)]) == 0
    assert 'fresh=["a0"]' in exported.read_text()
    capsys.readouterr()
    assert main([str(exported), "--policy", "page_count", "--json", "--quiet"]) == 0
    result, = json.loads(capsys.readouterr().out)["results"]
    assert result["verdict"] == "violated"
    assert [step["label"] for step in result["counterexample"]] == [step["label"] for step in trace["steps"]]


def test_the_c_program_of_the_lru_trace_says_why_it_is_unsupported(capsys, tmp_path):
    out = tmp_path / "o10b.c"
    trace_file = traces(capsys, tmp_path, ROOT / "specs" / "o10b_fresh_page_lru.py", "page_count")
    assert main(["export", str(trace_file), "--to", "c", "--out", str(out)]) == 0
    result = next(line for line in out.read_text().splitlines() if "RESULT %s unsupported" in line)
    assert "LRU batch" in result


def c17_program(prop: str, invert: bool = False) -> str:
    from modelcheck.reproduce import program_order_record
    from modelcheck.runner import c_reproducer

    path = ROOT / "specs" / "c17_zero_page.py"
    record = program_order_record(bind(path, load_spec(path)), prop, "anon_exclusive")
    assert record is not None
    return c_reproducer(record, invert)


def test_the_c_program_leaves_a_fresh_address_untouched_and_expects_zeros():
    source = c17_program("no_leak_to_child")
    assert "static const int untouched[NADDR] = { 1, 1 };" in source
    check_lines = [line for line in source.splitlines() if "allowed[] =" in line]
    assert check_lines and all("0x0ULL" in line and "0xc0ffee00000000ULL" not in line for line in check_lines)


@pytest.mark.skipif(GCC is None and not os.environ.get("CI"), reason="no gcc (.ci/run installs it)")
@pytest.mark.skipif(platform.system() != "Linux", reason="the reproducers are Linux programs")
@pytest.mark.parametrize("invert", [False, True], ids=["program", "negative-control"])
def test_the_zero_page_program_agrees_with_the_era_on_this_kernel(tmp_path, invert):
    """C17-zero in program order, compiled and run here: the child reads zeros before and after the parent's
    write fault on the zero page, as the era's model says (and the inverted checks report a violation)."""
    era = era_policy(platform.release())
    if era is None:
        pytest.skip("no policy models this kernel's era")
    source = tmp_path / "c17.c"
    source.write_text(c17_program("no_leak_to_child", invert))
    binary = tmp_path / "c17"
    subprocess.run([GCC or "gcc", "-O1", "-Wall", "-Werror", "-o", str(binary), str(source)], check=True,
                   capture_output=True)
    done = subprocess.run([str(binary)], capture_output=True, text=True, timeout=60)
    verdict = next(line for line in done.stdout.splitlines() if line.startswith("RESULT ")).split()[2]
    path = ROOT / "specs" / "c17_zero_page.py"
    loaded = bind(path, load_spec(path))
    expected = check(loaded.world.model(era, ["no_leak_to_child"]), SearchOptions()).verdict.value
    assert verdict == ({"holds": "violated", "violated": "holds"}[expected] if invert else expected), done.stdout


def test_c17_catches_a_kernel_that_writes_the_zero_page_in_place(monkeypatch):
    """The spec can fail: were a write fault on the zero page to make it writable in place, the other address
    that maps it would read the write (no_lost_write), as cow.c's test_cow on the zeropage would report."""
    import modelcheck.cow.mechanisms.faults as faults

    fresh_page = faults.map_fresh_page

    def in_place(k, t, proc, addr, keep):
        if t[k.layout.pte_index(proc, addr)]:  # the zero page is mapped: reuse it
            faults.reuse_page(k, t, proc, addr)
        else:
            fresh_page(k, t, proc, addr, keep)

    monkeypatch.setattr(faults, "map_fresh_page", in_place)
    path = ROOT / "specs" / "c17_zero_page.py"
    loaded = bind(path, load_spec(path))
    result = check(loaded.world.model("mapcount", loaded.spec.invariants), SearchOptions())
    assert result.verdict.value == "violated" and result.violations[0].property == "no_lost_write"


# -- pins of the shared zero page (c8070b787519) -----------------------------------------------------------------

def test_a_pin_of_the_zero_page_counts_1024_in_its_refcount_before_6_5_and_nothing_from_then():
    world = CowWorld.scripted({"parent": ["load a0", "pin_ro_short a0 -> pin", "put pin"]}, fresh=["a0"])
    for policy, weight, verdict in (("per_vma_lock_6_4", 1024, "violated"), ("odirect_pins_6_5", 0, "holds")):
        model = world.model(policy, ["zero_page_pins_bounded"])
        k = model.kernel
        before, _ = run(model, "parent load a0")
        pinned, acts = run(model, "parent load a0", "parent pin_ro_short a0 -> pin")
        assert acts[-1].branch == "gup" and pinned[model.layout.holder_base] == k.zero_page + 1
        assert info(k, pinned, k.zero_page).refcount - info(k, before, k.zero_page).refcount == weight, policy
        held = dict(model.words.references(pinned, k.zero_page))
        how = " (FOLL_PIN: 1024)" if weight else " (FOLL_PIN: no reference on the zero page)"
        assert held == {f"pin_ro_short pin{how}": weight, "parent's PTE a0": 1}
        assert check(world.model(policy, ["zero_page_pins_bounded"]), SearchOptions()).verdict.value == verdict


def test_a_pin_of_a_fresh_page_counts_1024_in_every_era():
    """Only the zero page is spared: the write-faulted page a pin holds is counted with the bias."""
    world = CowWorld.scripted({"parent": ["store a0", "pin_ro_short a0 -> pin"]}, fresh=["a0"])
    model = world.model("mainline_7_3", [])
    state, _ = run(model, "parent store a0", "parent pin_ro_short a0 -> pin")
    page = pte_page(state[model.layout.pte_index(0, 0)])
    assert info(model.kernel, state, page).refcount == 1 + 1024  # the PTE and the pin
