"""Which policy decision decided a violation: each choice on a counterexample taken the other way along the
same schedule (engine.explain, cow.decisions), in words, in JSON and in the text report."""

import json
from pathlib import Path

import pytest

from modelcheck.cow.decisions import deciding_counters, other_answer, rule_of
from modelcheck.cow.policies import GupFirst, GupRequest, PageInfo, WriteFault, get_policy
from modelcheck.engine import SearchOptions
from modelcheck.faces.cli import main
from modelcheck.runner import prepare, run_spec
from modelcheck.spec import bind, load_spec

ROOT = Path(__file__).resolve().parents[1]


def counterexample(spec: str, policy: str):
    path = str(ROOT / "specs" / spec)
    loaded = prepare(bind(path, load_spec(path), []), SearchOptions())
    trace = next(run_spec(loaded, [policy], SearchOptions())).result.counterexample
    assert trace is not None
    return trace


def test_c3_under_mapcount_the_parents_write_fault_reused_the_page_because_mapcount_is_1():
    trace = counterexample("vmsplice.py", "mapcount")
    culprit = trace.culprit
    assert culprit is not None and trace.steps[culprit.step - 1].label == "parent write(a0)"
    assert (culprit.kind, culprit.outcome, culprit.alternative) == ("write_fault", "reuse", "copy")
    assert culprit.words.startswith(f"step {culprit.step}: parent's write fault on page 0 reused it (mapcount 1, "
                                    "refcount 2: parent's PTE a0, child1's pipe buffer) because of mapcount 1 "
                                    "(with mapcount 2 it would have copied it)")
    assert culprit.words.endswith("copying it here avoids the violation")
    assert culprit.data["read"]["refcount"] == 2 and culprit.data["deciding_counters"] == {"mapcount": 1}
    # the refcount it did not look at: the pipe's reference is there, and changing it changes nothing
    assert "refcount" not in culprit.data["deciding_counters"]


def test_c7_under_page_count_the_write_fault_copied_the_pinned_page_because_of_its_refcount():
    trace = counterexample("c7_iouring_mprotect.py", "page_count")
    culprit = trace.culprit
    assert culprit is not None and trace.steps[culprit.step - 1].label == "parent store a0"
    assert (culprit.kind, culprit.outcome) == ("write_fault", "copy")
    assert "because of refcount 1025 (with refcount 1 it would have reused it)" in culprit.words
    assert "pin_rw buf (FOLL_PIN: 1024)" in culprit.words and "09854ba94c6a" in culprit.words
    assert culprit.data["rule"]["commit"] == "09854ba94c6a"
    # 6.0's mprotect upgrade of an exclusive page is the other way out (the step before), and is said too
    assert [(d.step, d.kind) for d in trace.deciding] == [(4, "mprotect_makes_writable"), (5, "write_fault")]


def test_c8_under_page_count_fork_shared_the_pinned_page_and_the_write_fault_copied_it():
    trace = counterexample("c8_iouring_fork.py", "page_count")
    by_step = {d.step: d for d in trace.deciding}
    fork, fault = by_step[2], by_step[3]
    assert trace.steps[1].label == "parent fork" and (fork.kind, fork.outcome) == ("fork_page", "share")
    assert fork.words.startswith("step 2: fork on page 0 shared it with the child (mapcount 1, refcount 1025")
    assert "copying it for the child here avoids the violation" in fork.words
    assert trace.culprit is fault and (fault.kind, fault.outcome) == ("write_fault", "copy")
    assert "because of mapcount 2 and refcount 1026" in fault.words and "09854ba94c6a" in fault.words


def test_o2_fork_the_fork_step_says_what_the_fork_rule_decided_and_why():
    trace = counterexample("o2f_odirect_fork.py", "page_count_fork_copy")
    culprit = trace.culprit
    assert culprit is not None and trace.steps[culprit.step - 1].label == "parent fork"
    assert (culprit.kind, culprit.outcome, culprit.alternative) == ("fork_page", "share", "copy")
    # the FOLL_GET reference of the O_DIRECT read is invisible to page_maybe_dma_pinned(), and the mm never pinned
    assert ("fork on page 0 shared it with the child (mapcount 1, refcount 2: parent's PTE a0, dio_read dio) because "
            "of refcount 2 and MMF_HAS_PINNED clear (with refcount 1026 and MMF_HAS_PINNED set it would have "
            "copied it for the child), by 70e806e4e645") in culprit.words
    assert culprit.words.endswith("copying it for the child here avoids the violation")
    assert trace.deciding == (culprit,)  # the parent's copy on its write fault decides nothing: the leak stays
    fault = next(d for d in trace.decisions if d.kind == "write_fault")
    assert (fault.flipped, fault.flipped_step) == ("still_violated", 5)


def test_a_race_no_policy_choice_decides_says_so(capsys, monkeypatch):
    # O8: the lost write comes from a stale TLB entry; the one choice on the trace does not decide it
    trace = counterexample("o8_uffd_wp_stale_tlb.py", "page_count")
    assert trace.decisions and not trace.deciding and trace.culprit is None
    monkeypatch.chdir(ROOT)
    main(["specs/o8_uffd_wp_stale_tlb.py", "--policy", "page_count", "--quiet"])
    assert "=> no single choice of the policy decides it" in capsys.readouterr().out


def test_the_other_answers_of_each_decision():
    page = PageInfo(mapcount=1, refcount=1)
    assert other_answer("write_fault", (page,), WriteFault.REUSE) is WriteFault.COPY
    assert other_answer("write_fault", (page,), WriteFault.WAIT) is None  # a lock wait is no choice
    read = GupRequest(write=False, pin=True, longterm=True, pte_writable=False)
    assert other_answer("gup", (read, page), GupFirst.NOTHING) is GupFirst.UNSHARE
    write = GupRequest(write=True, pin=True, longterm=True, pte_writable=False)
    assert other_answer("gup", (write, page), GupFirst.WRITE_FAULT) is None  # FOLL_WRITE must fault
    assert other_answer("drains_lru_before_reuse", (page,), False) is None  # nothing in a batch to drain
    assert other_answer("wrprotect_skips", (page,), True) is False


def test_deciding_counters_are_the_nearest_values_that_change_the_answer():
    mapcount, page_count = get_policy("mapcount"), get_policy("page_count")
    shared = PageInfo(mapcount=1, refcount=2)
    assert deciding_counters(mapcount.write_fault, shared) == ({"mapcount": 1}, {"mapcount": 2})
    assert deciding_counters(page_count.write_fault, shared) == ({"refcount": 2}, {"refcount": 1})
    fork_copy = get_policy("page_count_fork_copy")
    assert deciding_counters(fork_copy.fork_page, PageInfo(mapcount=1, refcount=2)) == \
        ({"refcount": 2, "has_pinned": False}, {"refcount": 1026, "has_pinned": True})
    assert rule_of(mapcount, "write_fault")["subject"] == "Pre2020Rule"
    assert rule_of(fork_copy, "fork_page")["commit"] == "70e806e4e645"
    assert rule_of(page_count, "wrprotect_skips")["commit"] is None


def test_text_json_and_trace_file_carry_the_explanation(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    trace_file = tmp_path / "c3.json"
    assert main(["specs/vmsplice.py", "--policy", "mapcount", "--quiet", "--trace-out", str(trace_file)]) == 0
    out = capsys.readouterr().out
    assert "! decides: parent's write fault on page 0 reused it" in out
    assert "=> deciding: step 4: parent's write fault on page 0 reused it" in out
    record = json.loads(trace_file.read_text())["traces"][0]
    culprit = [d for d in record["decisions"] if d["deciding"]][-1]
    assert (culprit["step"], culprit["decision"], culprit["outcome"]) == (4, "write_fault", "reuse")
    assert culprit["flipped"] == {"result": "avoids", "step": None, "also": None}
    assert record["verdicts"] == [{"policy": "mapcount", "verdict": "violated", "expected": "violated"}]
    assert record["steps"][-1]["properties"] == {"no_leak_to_child": False}
    assert main(["specs/vmsplice.py", "--policy", "mapcount", "--quiet", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    violation = document["results"][0]["violation"]
    assert violation["culprit"]["words"] == culprit["words"]
    assert main(["replay", str(trace_file), "--trust-spec"]) == 0  # the new fields are read back


def test_full_shows_every_state_and_which_invariants_hold_at_each_step(capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    assert main(["specs/c7_iouring_mprotect.py", "--policy", "page_count", "--quiet", "--full"]) == 0
    out = capsys.readouterr().out
    assert "initial state:" in out and out.count("state after:") == 5
    table = out[out.index("step  pin_coherent"):].splitlines()
    assert table[1].split() == ["1", "ok", "ok"] and table[5].split() == ["5", "FAIL", "ok"]


@pytest.mark.parametrize("spec,policy", [("c4_vmsplice_child_mprotect.py", "mapcount"),
                                         ("o10_speculative_reference.py", "page_count")])
def test_every_flip_replays_the_rest_of_the_schedule(spec, policy):
    trace = counterexample(spec, policy)
    for d in trace.decisions:
        assert d.flipped in ("avoids", "still_violated", "diverges", "blocked")
        assert d.words.startswith(f"step {d.step}: ")
        if d.flipped in ("still_violated", "diverges"):
            assert d.step <= d.flipped_step <= len(trace)
