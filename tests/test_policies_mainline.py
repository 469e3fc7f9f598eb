"""The policies after 6.2: O_DIRECT pins from 6.5, mainline's LRU drain, and which kernels each stands for."""

from __future__ import annotations

import platform
import re
import runpy
from pathlib import Path

import pytest

from modelcheck import runner
from modelcheck.cow import CowWorld, WorldError
from modelcheck.cow.c_program import era_policy as reproducer_era_policy
from modelcheck.cow.capabilities import bind
from modelcheck.cow.policies import PageInfo, WriteFault, get_policy
from modelcheck.cow.policies.releases import era_policy, stands_for
from modelcheck.engine import SearchOptions, Verdict, check
from modelcheck.faces.cli import main

ROOT = Path(__file__).resolve().parents[1]
O2_FORK = {"parent": ["dio_read a0 -> dio", "fork", "store a0.1", "dma_write dio", "put dio", "load a0"],
           "child1": ["load a0"]}


def verdict(programs, policy, invariants, events=()):
    model = CowWorld.scripted(programs, events=events).model(policy, invariants)
    return check(model, SearchOptions())


def with_reference(programs, reference):
    return {name: [op + f" [{reference}]" if op.startswith("dio_") else op for op in program]
            for name, program in programs.items()}


# -- O_DIRECT by era ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("policy, expected", [("anon_exclusive", Verdict.VIOLATED), ("anon_exclusive_6_2", Verdict.VIOLATED),
                                              ("odirect_pins_6_5", Verdict.HOLDS), ("mainline_7_3", Verdict.HOLDS)])
def test_o2_fork_holds_once_o_direct_pins(policy, expected):
    assert verdict(O2_FORK, policy, ["no_lost_write", "no_leak_to_child"]).verdict is expected


def test_under_6_5_fork_copies_the_pinned_buffer_for_the_child_and_the_parent_keeps_it():
    m = CowWorld.scripted({"parent": ["dio_read a0 -> dio", "fork"]}).model("odirect_pins_6_5", [])
    s = m.initial_states()[0]
    branches = []
    for _ in range(2):
        ((act, s),) = m.successors(s)
        branches.append(act.branch)
    assert branches == ["gup", "fork_copy"]
    old = CowWorld.scripted({"parent": ["dio_read a0 -> dio", "fork"]}).model("anon_exclusive_6_2", [])
    s = old.initial_states()[0]
    for _ in range(2):
        ((act, s),) = old.successors(s)
    assert act.branch == "fork_share"  # a FOLL_GET reference is invisible to page_maybe_dma_pinned()


def test_a_spec_can_pin_the_o_direct_reference_down_whatever_the_era():
    invariants = ["no_lost_write", "no_leak_to_child"]
    assert verdict(with_reference(O2_FORK, "get"), "odirect_pins_6_5", invariants).verdict is Verdict.VIOLATED
    assert verdict(with_reference(O2_FORK, "pin"), "anon_exclusive_6_2", invariants).verdict is Verdict.HOLDS
    # a pin by the era counts 1024 like any FOLL_PIN, and is not FOLL_LONGTERM
    machine = bind(CowWorld.scripted(O2_FORK), get_policy("odirect_pins_6_5"), []).kernel
    (holder,) = machine.holders
    assert (holder.reference, holder.is_pin, holder.longterm, holder.writable) == ("pin", True, False, True)
    assert machine.holder_weights[0][1] == 1024
    (old,) = bind(CowWorld.scripted(O2_FORK), get_policy("anon_exclusive_6_2"), []).kernel.holders
    assert (old.reference, old.is_pin) == ("get", False)


@pytest.mark.parametrize("text, says", [
    ("dio_read a0 -> h [long]", "the reference is [get] (FOLL_GET) or [pin]"),
    ("get_rw a0 -> h [pin]", "takes the form 'get_rw aN -> NAME'"),
    ("dio_write a0 -> h pin", "the reference is [get] (FOLL_GET) or [pin]"),
    ("dio_write a0 h", "takes the form 'dio_write aN -> NAME', optionally followed by [get] or [pin]"),
])
def test_a_wrong_reference_is_a_one_line_error(text, says):
    with pytest.raises(WorldError, match=re.escape(says)):
        CowWorld.scripted({"parent": [text]})


def test_the_o2_specs_state_the_6_5_verdicts():
    for name in ("o2_odirect_clear_refs.py", "o2f_odirect_fork.py"):
        spec = runpy.run_path(str(ROOT / "specs" / name))["SPEC"]
        assert spec.expect["odirect_pins_6_5"] == "holds"


# -- mainline: the LRU drain only when it can help (8d596d8b81ef) ------------------------------------------

def test_mainline_skips_the_drain_a_copy_would_follow_and_decides_the_same():
    shared_in_batch = PageInfo(mapcount=2, refcount=3, in_lru_batch=True)
    alone_in_batch = PageInfo(mapcount=1, refcount=2, in_lru_batch=True)
    old, new = get_policy("anon_exclusive_6_2"), get_policy("mainline_7_3")
    assert old.drains_lru_before_reuse(shared_in_batch) and not new.drains_lru_before_reuse(shared_in_batch)
    assert old.write_fault(shared_in_batch) is new.write_fault(shared_in_batch) is WriteFault.COPY
    assert old.drains_lru_before_reuse(alone_in_batch) and new.drains_lru_before_reuse(alone_in_batch)
    in_swapcache = PageInfo(mapcount=2, refcount=3, in_lru_batch=True, in_swapcache=True)
    assert new.drains_lru_before_reuse(in_swapcache)  # 1 + batch + swap cache: the drain may still help


def fault_branches(spec_file: str, policy: str) -> set[str]:
    """Every branch a store takes in the spec's whole state space under ``policy``."""
    spec = runpy.run_path(str(ROOT / "specs" / spec_file))["SPEC"]
    model = bind(spec.world(), get_policy(policy), spec.invariants)
    seen, todo, branches = set(), list(model.initial_states()), set()
    while todo:
        state = todo.pop()
        if state in seen:
            continue
        seen.add(state)
        for act, after in model.successors(state):
            if act.kind == "store":
                branches.add(act.branch)
            todo.append(after)
    return branches


def test_the_lru_batch_spec_shows_where_the_drain_happens():
    old, new = fault_branches("o10_lru_batch_shared.py", "anon_exclusive_6_2"), \
        fault_branches("o10_lru_batch_shared.py", "mainline_7_3")
    assert "lru_drain+copy" in old and "lru_drain+copy" not in new  # the parent's copy no longer drains first
    assert "lru_drain+reuse" in new and "lru_drain+reuse" not in old  # child2's fault drains instead, and reuses
    for policy in ("refcount_5_18", "anon_exclusive_6_2", "mainline_7_3"):
        result = runner.run_cell(ROOT / "specs" / "o10_lru_batch_shared.py", policy)
        assert result["verdict"] == "holds"
    for spec in ("o10_lru_batch.py", "o10_lru_batch_shared.py"):
        counted = verdict(_programs(spec), "mainline_7_3", ["no_spurious_copy"], ("lru",))
        assert counted.verdict is Verdict.HOLDS and counted.counts["spurious_copies"] == 0


def _programs(spec: str) -> dict[str, list[str]]:
    scenario = runpy.run_path(str(ROOT / "specs" / spec))["SPEC"].world().scenario
    return {t.name: [op.text for op in t.program] for t in scenario.threads}


# -- which kernels each policy stands for ------------------------------------------------------------------

@pytest.mark.parametrize("release, policy", [
    ("4.19.0", "mapcount"), ("5.7", "mapcount"), ("5.8.0", "gup_cow_break"), ("5.9.1", "page_count_early_cow"),
    ("5.10.200", "page_count_early_cow"), ("5.11", "page_count_fork_copy"), ("5.17.15", "page_count_fork_copy"),
    ("5.18.3", "refcount_5_18"), ("6.1.0", "anon_exclusive"), ("6.2", "anon_exclusive_6_2"),
    ("6.3.13", "anon_exclusive_6_2"), ("6.4.1", "per_vma_lock_6_4"), ("6.5", "odirect_pins_6_5"), ("6.6.30", "odirect_pins_6_5"),
    ("6.7", "uffd_wp_async_6_7"), ("6.8", "uffd_move_6_8"), ("6.9", "large_folio_6_9"), ("6.10.14", "large_folio_6_9"),
    ("6.11", "large_swapin_6_11"), ("6.12.9", "large_swapin_6_11"),
    ("6.13", "huge_zero_thp_6_13"), ("6.14.3", "huge_zero_thp_6_13"),
    ("6.15", "mm_owner_6_15"), ("6.18.44-fc", "mm_owner_6_15"),
    # 7.1.5's wp_can_reuse_anon_folio still gives up above refcount 3: 8d596d8b81ef is later
    ("7.1.5", "mm_owner_6_15"), ("7.2.9", "mm_owner_6_15"), ("7.3.0-rc5", "mainline_7_3"), ("not a release", None)])
def test_the_era_of_a_release(release, policy):
    assert era_policy(release) == policy
    assert runner.era_policy(release) == policy
    assert reproducer_era_policy is era_policy  # one derivation, in the policies package


def test_each_policy_says_which_releases_it_stands_for():
    said = {name: stands_for(get_policy(name)) for name in
            ("dirty_cow", "mapcount", "gup_cow_break", "page_count", "page_count_early_cow", "page_count_fork_copy",
             "anon_exclusive", "anon_exclusive_6_2",
             "per_vma_lock_6_4", "odirect_pins_6_5", "uffd_wp_async_6_7", "uffd_move_6_8", "mainline_7_3",
             "andrea_cor")}
    assert said == {"dirty_cow": "every release to v4.8", "mapcount": "v4.9 to v5.7", "gup_cow_break": "v5.8",
                    "page_count": "no release of its own (page_count_early_cow stands for v5.9)",
                    "page_count_early_cow": "v5.9 to v5.10", "page_count_fork_copy": "v5.11 to v5.17",
                    "anon_exclusive": "v5.19 up to v6.2 (not incl.)", "anon_exclusive_6_2": "v6.2 to v6.3",
                    "per_vma_lock_6_4": "v6.4", "odirect_pins_6_5": "v6.5 to v6.6", "uffd_wp_async_6_7": "v6.7",
                    "uffd_move_6_8": "v6.8", "mainline_7_3": "v7.3 on",
                    "andrea_cor": "no release (a proposal)"}
    entries = {e["name"]: e for e in runner.policy_catalogue()}
    assert all(entries[name]["stands_for"] == words for name, words in said.items())


def test_the_listing_says_the_ranges_and_the_policy_of_this_machine(capsys):
    assert main(["policies"]) == 0
    out = capsys.readouterr().out
    assert "odirect_pins_6_5  v6.5  (builds on per_vma_lock_6_4)\n" in out
    assert "  stands for v6.5 to v6.6\n" in out
    assert "uffd_wp_async_6_7  v6.7  (builds on odirect_pins_6_5)\n" in out
    assert "  stands for v6.7\n" in out
    assert "uffd_move_6_8  v6.8  (builds on uffd_wp_async_6_7)\n" in out
    assert "  stands for v6.8\n" in out
    assert "mm_owner_6_15_rc1  v6.15-rc1  (builds on huge_zero_thp_6_13)\n" in out
    assert "  stands for no release of its own (mm_owner_6_15 stands for v6.15)\n" in out
    assert "mm_owner_6_15  v6.15  (builds on mm_owner_6_15_rc1)\n" in out
    assert "  stands for v6.15 up to v7.3 (not incl.)\n" in out
    assert "+ a7e689dd1c06" in out and "+ d61ea1cb0095" in out and "+ 8d596d8b81ef" in out
    release = platform.release()
    assert out.rstrip("\n").endswith(f"this machine runs Linux {release}: modelled by {era_policy(release)}")


def test_changed_in_states_every_release_before_and_after_one_era():
    from modelcheck.cow import changed_in
    from modelcheck.cow.policies import all_policies

    said = changed_in("odirect_pins_6_5")
    merged = [p.name for p in all_policies() if stands_for(p) != "no release (a proposal)"]
    assert list(said) == merged and "andrea_cor" not in said
    assert said["per_vma_lock_6_4"] == said["dirty_cow"] == "violated"
    assert said["odirect_pins_6_5"] == said["mainline_7_3"] == "holds"
    assert changed_in("anon_exclusive", before="holds", after="violated")["refcount_5_18"] == "holds"
    with pytest.raises(ValueError, match="not a merged policy"):
        changed_in("jason_2020")
