"""The full COW world: each invariant can fail and can hold, the specs reproduce history,
malformed scenarios are one-line errors, coverage catches vacuous runs, the matrix is generated."""

import json
from pathlib import Path

import pytest

from modelcheck.cow import CowWorld, WorldError
from modelcheck.cow.mechanisms import memory
from modelcheck.engine import SearchOptions, Verdict, check
from modelcheck.faces.cli import main
from modelcheck.runner import run_spec
from modelcheck.spec import bind, load_spec
from walk import follow, labels_enabled

ROOT = Path(__file__).resolve().parents[1]
SPECS = sorted((ROOT / "specs").glob("*.py"))


def verdict(programs, policy, invariants, events=()):
    model = CowWorld.scripted(programs, events=events).model(policy, invariants)
    return check(model, SearchOptions(stop_at_first=False))


# Each invariant: a scenario and a policy that break it, and a policy under which it holds there.
INVARIANT_CASES = [
    ("no_leak_to_child", {"parent": ["fork", "store a0"], "child1": ["vmsplice a0", "munmap a0", "pipe_read"]},
     (), "mapcount", "page_count"),
    ("no_leak_to_parent", {"parent": ["fork", "vmsplice a0", "munmap a0", "pipe_read"], "child1": ["store a0"]},
     (), "mapcount", "page_count"),
    ("no_leak_across_fork", {"parent": ["vmsplice a0", "fork", "munmap a0", "pipe_read"], "child1": ["store a0"]},
     (), "gup_cow_break", "page_count"),
    ("pin_coherent", {"parent": ["pin_rw a0 -> buf", "fork", "store a0"]}, (), "page_count", "page_count_fork_copy"),
    ("no_lost_write", {"parent": ["get_rw a0 -> dio", "dma_write dio", "put dio", "load a0"],
                       "parent.2": ["clear_refs", "store a0"]}, (), "page_count", "mapcount"),
    ("wrprotect_effective", {"parent": ["pin_rw a0 -> mr", "mprotect_ro a0"], "parent.2": ["store a0"]},
     (), "page_count_refuse_wrprotect", "anon_exclusive"),
    ("read_gup_no_write_fault", {"parent": ["uffd_wp a0", "get_ro a0 -> buf"]}, (), "gup_cow_break", "page_count"),
    ("no_spurious_copy", {"parent": ["mprotect_ro a0", "mprotect_rw a0", "store a0"]}, ("spec",),
     "page_count", "anon_exclusive"),
]


@pytest.mark.parametrize("invariant, programs, events, breaks, keeps", INVARIANT_CASES,
                         ids=[case[0] for case in INVARIANT_CASES])
def test_each_invariant_can_fail_and_can_hold(invariant, programs, events, breaks, keeps):
    bad = verdict(programs, breaks, [invariant], events)
    assert bad.verdict is Verdict.VIOLATED and bad.violations[0].property == invariant
    good = verdict(programs, keeps, [invariant], events)
    assert good.verdict is Verdict.HOLDS and good.stats.states > 1


def test_refcount_sane_holds_and_catches_a_page_the_world_forgets_to_free(monkeypatch):
    programs = {"parent": ["vmsplice a0", "fork", "munmap a0", "pipe_read"], "child1": ["store a0", "exit"]}
    assert verdict(programs, "page_count", ["refcount_sane"]).verdict is Verdict.HOLDS
    monkeypatch.setattr(memory, "free_page", lambda m, t, page: None)  # a deliberately broken world
    broken = verdict(programs, "page_count", ["refcount_sane"])
    assert broken.verdict is Verdict.VIOLATED
    assert "nothing references it" in broken.counterexample.explanation


def test_spurious_copies_are_counted_on_every_run():
    programs = {"parent": ["mprotect_ro a0", "mprotect_rw a0", "store a0"]}
    counted = verdict(programs, "page_count", ["no_leak_to_child"], ("spec",))
    assert counted.verdict is Verdict.HOLDS and counted.counts["spurious_copies"] == 1
    assert verdict(programs, "anon_exclusive", ["no_leak_to_child"], ("spec",)).counts["spurious_copies"] == 0


def test_lru_batch_reference_is_drained_by_5_18_not_by_5_9():
    programs = {"parent": ["fork", "store a0", "mprotect_ro a0", "mprotect_rw a0", "store a0"]}
    assert verdict(programs, "page_count", ["no_spurious_copy"], ("lru",)).verdict is Verdict.VIOLATED
    assert verdict(programs, "refcount_5_18", ["no_spurious_copy"], ("lru",)).verdict is Verdict.HOLDS


def test_fork_copies_a_pinned_page_for_the_child_and_keeps_the_parent_writable():
    m = CowWorld.scripted({"parent": ["pin_rw a0 -> buf", "fork"]}).model("page_count_fork_copy", [])
    s = m.initial_states()[0]
    for _ in range(2):
        ((act, s),) = m.successors(s)
    state = m.state_to_json(s)
    assert act.branch == "fork_copy"
    assert state["processes"]["parent"]["pte"]["a0"] == {"page": 0, "writable": True}
    assert state["processes"]["child1"]["pte"]["a0"] == {"page": 1, "writable": True}
    assert state["holders"] == {"buf": 0}
    assert state["pages"]["0"]["refcount"] == 1 + 1024


def test_ro_pin_unshares_a_shared_page_under_anon_exclusive():
    m = CowWorld.scripted({"parent": ["fork", "pin_ro a0 -> pin"]}).model("anon_exclusive", [])
    s = m.initial_states()[0]
    for _ in range(2):
        ((act, s),) = m.successors(s)
    state = m.state_to_json(s)
    assert act.branch == "unshare_copy"
    assert state["processes"]["parent"]["pte"]["a0"] == {"page": 1, "writable": False}
    assert state["pages"]["1"]["exclusive"] and not state["pages"]["0"]["exclusive"]


@pytest.mark.parametrize("path", SPECS, ids=[p.stem for p in SPECS])
def test_every_spec_reproduces_the_history_it_states(path):
    loaded = bind(path, load_spec(path))
    runs = list(run_spec(loaded, loaded.policies(), SearchOptions()))
    assert len(runs) == len(loaded.world.policy_names())
    wrong = {run.policy: run.result.verdict.value for run in runs if run.as_expected is False}
    assert not wrong, f"{loaded.spec.id}: verdicts differ from the stated history: {wrong}"


def test_acceptance_cells_of_the_history():
    """The cells issue 3 names, read from the specs' own runs."""
    def cell(name, policy):
        path = ROOT / "specs" / name
        loaded = bind(path, load_spec(path))
        return next(run_spec(loaded, [policy], SearchOptions())).result.verdict.value

    assert cell("vmsplice.py", "mapcount") == "violated"
    assert {cell("vmsplice.py", p) for p in ("gup_cow_break", "page_count", "anon_exclusive")} == {"holds"}
    assert cell("c7_iouring_mprotect.py", "page_count") == "violated"
    assert cell("c7_iouring_mprotect.py", "anon_exclusive") == "holds"
    assert cell("c8_iouring_fork.py", "mapcount") == cell("c8_iouring_fork.py", "page_count") == "violated"
    assert cell("c8_iouring_fork.py", "page_count_fork_copy") == "holds"
    assert {p for p in ("mapcount", "gup_cow_break", "page_count", "page_count_fork_copy", "refcount_5_18",
                        "anon_exclusive", "andrea_cor", "jason_2020", "page_count_refuse_wrprotect")
            if cell("c9_ro_pin_shared.py", p) == "holds"} == {"gup_cow_break", "anon_exclusive", "andrea_cor"}


@pytest.mark.parametrize("programs, needle", [
    ({"parent": ["teleport a0"]}, "unknown operation 'teleport'"),
    ({"parent": ["store x"]}, "'x' is not an address"),
    ({"parent": ["store"]}, "store takes the form 'store aN'"),
    ({"parent": ["put buf"]}, "names holder 'buf', which no GUP operation takes"),
    ({"parent": ["get_ro a0 -> b", "dma_write b"]}, "b is a read-only reference"),
    ({"parent": ["fork"], "child1": ["fork"]}, "only the parent forks"),
    ({"parent": ["store a0"], "child2": ["store a0"]}, "the parent forks only 0 time(s)"),
    ({"worker": ["store a0"]}, "threads are named parent"),
    ({"child1": ["store a0"]}, "a scenario needs a parent thread"),
    ({"parent": "store a0"}, "must be a list of operations"),
])
def test_malformed_scenarios_are_refused_with_a_reason(programs, needle):
    with pytest.raises(WorldError, match="scenario: .*" + needle.replace("(", r"\(").replace(")", r"\)")):
        CowWorld.scripted(programs)


def test_a_malformed_scenario_file_is_one_line_and_exit_2(tmp_path, capsys):
    spec = tmp_path / "bad.py"
    spec.write_text("from modelcheck import Spec\nfrom modelcheck.cow import CowWorld\n"
                    "SPEC = Spec(id='x', title='t', invariants=['pin_coherent'],\n"
                    "            world=lambda: CowWorld.scripted({'parent': ['pin_rw a9 ->']}))\n")
    assert main([str(spec), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"modelcheck: {spec}: scenario: thread parent, operation 1: " in err
    assert "bad parameters" not in err  # the spec has none
    assert "pin_rw takes the form" in err


def test_covers_turns_a_vacuous_run_into_a_failure(tmp_path, capsys):
    spec = tmp_path / "vacuous.py"
    spec.write_text("from modelcheck import Spec\nfrom modelcheck.cow import CowWorld\n"
                    "SPEC = Spec(id='x', title='t', invariants=['pin_coherent'], covers=['fork_copy'],\n"
                    "            world=lambda: CowWorld.scripted({'parent': ['pin_rw a0 -> b', 'fork']}))\n")
    assert main([str(spec), "--quiet", "--policy", "page_count_fork_copy"]) == 0
    assert main([str(spec), "--quiet", "--policy", "page_count"]) == 1
    assert "VACUOUS: never fired fork_copy" in capsys.readouterr().out


def test_unfired_branches_are_reported(capsys):
    assert main([str(ROOT / "specs" / "c1_basic_cow.py"), "--quiet", "--policy", "page_count"]) == 0
    out = capsys.readouterr().out
    assert "never fired" in out and "fork_copy" in out


def test_matrix_writes_markdown_and_json(tmp_path, capsys):
    specs = [str(ROOT / "specs" / "vmsplice.py"), str(ROOT / "specs" / "c8_iouring_fork.py")]
    assert main(["matrix", *specs, "--out-dir", str(tmp_path), "--quiet"]) == 0
    doc = json.loads((tmp_path / "matrix.json").read_text())
    assert doc["schema"] == "modelcheck.matrix/2"
    assert [s["id"] for s in doc["scenarios"]] == ["C3", "C8"]
    cells = {(c["scenario"], c["policy"]): c for c in doc["cells"]}
    assert len(cells) == 2 * len(doc["policies"])
    c = cells["C3", "mapcount"]
    assert (c["verdict"], c["counterexample_length"]) == ("violated", 5)
    assert (c["expected"], c["as_expected"]) == ("violated", True)
    for key in ("scenario", "policy", "verdict", "states", "seconds", "counterexample_length", "expected"):
        assert key in c
    assert cells["C8", "jason_2020"]["expected"] is None
    md = (tmp_path / "matrix.md").read_text()
    assert "| **C8** fork() with an io_uring fixed buffer |" in md and "violated(" in md


def test_committed_matrix_is_the_generated_one():
    """results/matrix.json is written by the tool: every stated cell agrees, and nothing is typed in."""
    doc = json.loads((ROOT / "results" / "matrix.json").read_text())
    ids = {bind(p, load_spec(p)).spec.id for p in SPECS}
    assert {s["id"] for s in doc["scenarios"]} == ids
    assert all(c["as_expected"] is not False for c in doc["cells"])


def _follow(model, *labels):
    acts, state = follow(model, *labels)
    return acts, model.state_to_json(state)


def test_a_stale_writable_tlb_entry_bypasses_a_write_protected_pte():
    m = CowWorld.scripted({"parent": ["store a0", "store a0"], "parent.2": ["clear_refs"]},
                          tlb=True).model("page_count", ["wrprotect_effective"])
    acts, state = _follow(m, "parent store a0", "parent.2 clear_refs", "parent store a0")
    assert [a.branch for a in acts] == ["write", "clear_refs", "tlb_write"]
    assert state["processes"]["parent"]["pte"]["a0"]["writable"] is False  # the PTE says no; the TLB said yes


def test_write_protection_flushes_in_a_second_step_before_returning():
    m = CowWorld.scripted({"parent": ["store a0", "mprotect_ro a0"], "parent.2": ["load a0"]},
                          tlb=True).model("page_count", [])
    acts, state = _follow(m, "parent store a0", "parent mprotect_ro a0")
    assert acts[-1].branch == "wrprotect+flush_pending"
    assert state["pc"]["parent"] == 1 and state["flush_pending"]["parent"] == 1
    assert state["tlb"]["parent"]["a0"] == "page 0 writable"
    acts, state = _follow(m, "parent store a0", "parent mprotect_ro a0", "parent mprotect_ro a0")
    assert acts[-1].branch == "tlb_flush"
    assert state["pc"]["parent"] == 2 and state["flush_pending"]["parent"] == 0
    assert state["tlb"]["parent"]["a0"] == "empty"


def test_a_copy_fault_whose_pte_changed_meanwhile_is_retried():
    m = CowWorld.scripted({"parent": ["fork", "store a0", "munmap a0"], "parent.2": ["store a0"]},
                          tlb=True).model("page_count", ["refcount_sane"])
    # (with TLBs fork is two steps: the PTEs copied, then the parent's TLB flushed)
    acts, state = _follow(m, "parent fork", "parent fork", "parent.2 store a0", "parent store a0", "parent store a0")
    assert [a.branch for a in acts[2:]] == ["copy+copy_start", "copy+copy_start", "copy_install"]
    acts, state = _follow(m, "parent fork", "parent fork", "parent.2 store a0", "parent store a0",
                          "parent store a0", "parent.2 store a0")
    assert acts[-1].branch == "copy_retry"  # parent installed its copy first: parent.2's is dropped
    assert state["pc"]["parent.2"] == 0
    assert check(m, SearchOptions(stop_at_first=False)).verdict is Verdict.HOLDS  # no page leaks, none freed early


def test_pageout_turns_the_pte_into_a_swap_entry_and_fork_shares_it():
    m = CowWorld.scripted({"parent": ["pageout a0", "fork"]}).model("anon_exclusive", [])
    acts, state = _follow(m, "parent pageout a0")
    assert acts[0].branch == "pageout"
    assert state["processes"]["parent"]["pte"]["a0"] == {"swap": 0, "exclusive": True}
    assert state["pages"]["0"]["swapcache"] and state["pages"]["0"]["refcount"] == 1
    acts, state = _follow(m, "parent pageout a0", "parent fork")
    assert state["processes"]["parent"]["pte"]["a0"] == state["processes"]["child1"]["pte"]["a0"] == \
        {"swap": 0, "exclusive": False}
    assert state["pages"]["0"]["swapcount"] == 2


def test_swap_in_write_fault_rule_per_era():
    """Up to 5.17 the swap-in path reuses on mapcount plus swap count; 5.18 on the refcount."""
    programs = {"parent": ["pageout a0", "fork", "store a0"], "child1": ["vmsplice a0", "munmap a0"]}
    labels = ("parent pageout a0", "parent fork", "child1 vmsplice a0", "child1 munmap a0", "parent store a0")
    acts, _ = _follow(CowWorld.scripted(programs).model("page_count_fork_copy", []), *labels)
    assert acts[-1].branch == "swapin_reuse"  # the pipe's reference is not looked at
    acts, _ = _follow(CowWorld.scripted(programs).model("refcount_5_18", []), *labels)
    assert acts[-1].branch == "swapin+copy"


def test_reclaim_checks_a_pin_once_and_5_19_refuses_to_unmap_a_pinned_exclusive_page():
    programs = {"parent": ["pin_rw a0 -> buf"]}
    acts, state = _follow(CowWorld.scripted(programs, events=["swap"]).model("page_count_fork_copy", []),
                          "kernel swap_add(page 0)", "parent pin_rw a0 -> buf", "kernel swap_unmap(page 0)")
    assert state["processes"]["parent"]["pte"]["a0"] == {"swap": 0, "exclusive": False}
    m = CowWorld.scripted(programs, events=["swap"]).model("anon_exclusive", [])
    _, state = follow(m, "kernel swap_add(page 0)", "parent pin_rw a0 -> buf")
    assert "kernel swap_unmap(page 0)" not in labels_enabled(m, state)


def test_page_lock_waits_before_5_9_and_copies_after():
    programs = {"parent": ["mprotect_ro a0", "mprotect_rw a0", "store a0"]}
    labels = ("parent mprotect_ro a0", "parent mprotect_rw a0", "kernel lock_page(page 0)")
    for policy, branches in (("mapcount", set()), ("page_count", {"copy"}), ("anon_exclusive", {"reuse"})):
        m = CowWorld.scripted(programs, events=["lock"]).model(policy, [])
        _, state = follow(m, *labels)
        stores = {a.branch for a, _ in m.successors(state) if a.kind == "store"}
        assert stores == branches, policy  # mapcount sleeps in lock_page: no store until unlock


def test_dontfork_leaves_the_child_without_the_mapping():
    m = CowWorld.scripted({"parent": ["dontfork a0", "fork"]}, addresses=2).model("page_count", [])
    _, state = _follow(m, "parent dontfork a0", "parent fork")
    assert state["processes"]["child1"]["pte"] == {"a0": None, "a1": {"page": 1, "writable": False}}
    assert state["processes"]["parent"]["pte"]["a0"] == {"page": 0, "writable": True}


def test_text_report_counts_spurious_copies(capsys):
    assert main([str(ROOT / "specs" / "o11_swapcache_reuse.py"), "--quiet", "--no-stop",
                 "--policy", "page_count", "--policy", "refcount_5_18"]) == 0
    out = capsys.readouterr().out
    assert "counted in the explored transitions:\n  page_count: spurious_copies 1" in out
    assert "refcount_5_18: spurious" not in out


@pytest.mark.parametrize("path", SPECS, ids=[p.stem for p in SPECS])
def test_every_counterexample_of_every_spec_replays(path, tmp_path, capsys):
    traces = tmp_path / "traces.json"
    main([str(path), "--quiet", "--trace-out", str(traces)])
    capsys.readouterr()
    if not json.loads(traces.read_text())["traces"]:  # nothing to replay: then no policy is expected to fail
        assert "violated" not in load_spec(path).expect.values()
        return
    assert main(["replay", str(traces), "--trust-spec", "--quiet"]) == 0, capsys.readouterr().out


@pytest.mark.parametrize("programs, never_finishes", [
    ({"parent": ["pipe_read"]}, "end:parent"),  # a pipe nothing ever fills
    ({"parent": ["fork", "store a0"], "child1": ["vmsplice a0", "pipe_read", "pipe_read"]}, "end:child1"),
    ({"parent": ["fork", "pin_ro a0 -> r", "put r"], "child1": ["exit", "load a0"]}, "end:child1"),  # dead
])
def test_a_thread_that_can_never_finish_makes_the_run_vacuous_without_covers(tmp_path, capsys, programs,
                                                                                 never_finishes):
    """No ``covers`` in the spec: the world requires every thread's end, so the run fails (exit 1), not holds."""
    spec = tmp_path / "stuck.py"
    spec.write_text("from modelcheck import Spec\nfrom modelcheck.cow import CowWorld\n"
                    f"SPEC = Spec(id='x', title='t', invariants=['no_leak_to_child'],\n"
                    f"            world=lambda: CowWorld.scripted({programs!r}))\n")
    assert main([str(spec), "--quiet", "--policy", "anon_exclusive"]) == 1
    out = capsys.readouterr().out
    assert "VACUOUS: never fired " + never_finishes in out


def test_excused_lets_a_thread_block_for_ever_and_must_name_a_required_item(tmp_path, capsys):
    body = ("from modelcheck import Spec\nfrom modelcheck.cow import CowWorld\n"
            "SPEC = Spec(id='x', title='t', invariants=['no_leak_to_child'], excused={excused!r},\n"
            "            world=lambda: CowWorld.scripted({{'parent': ['store a0'], 'parent.2': ['pipe_read']}}))\n")
    spec = tmp_path / "blocks.py"
    spec.write_text(body.format(excused=["end:parent.2"]))
    assert main([str(spec), "--quiet", "--policy", "anon_exclusive"]) == 0
    spec.write_text(body.format(excused=["end:child1"]))
    assert main([str(spec), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "excused names 'end:child1', which this world does not require" in err


@pytest.mark.parametrize("programs, needle", [
    ({"parent": []}, "thread parent: empty program"),
    ({"parent": ["store a0"], "parent.2": []}, "thread parent.2: empty program"),
    ({"parent": ["pin_rw a0 -> buf", "put buf", "put buf"]}, "'put buf' (operation 3) uses holder 'buf' after "
                                                            "operation 2 put it"),
    ({"parent": ["get_rw a0 -> b", "put b", "dma_write b"]}, "uses holder 'b' after operation 2 put it"),
    ({"parent": ["pin_rw a0 -> buf", "put buf"], "parent.2": ["put buf"]}, "holder 'buf' is put twice (by parent "
                                                                         "and parent.2)"),
])
def test_programs_that_cannot_run_are_refused_when_built(programs, needle):
    with pytest.raises(WorldError, match=needle.replace("(", r"\(").replace(")", r"\)")):
        CowWorld.scripted(programs)
