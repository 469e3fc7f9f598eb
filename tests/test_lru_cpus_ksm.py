"""Per-CPU LRU batches and KSM for small pages: the rules step by step, and the specs' verdicts."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest

from modelcheck.cow import CowWorld, KernelConfig, WorldError
from modelcheck.cow.layout import (PAGE_EXCLUSIVE, PAGE_KSM, PAGE_LOCKED, PAGE_LRU_BATCH, PTE_UFFD_WP, PTE_WRITE,
                                   pte_page)
from modelcheck.cow.mechanisms.memory import lru_cpu_of
from modelcheck.cow.policies import get_policy
from modelcheck.engine import SearchOptions, check
from walk import follow, labels_enabled

ROOT = Path(__file__).resolve().parents[1]
TWO_CPUS = {"parent": ["store a0", "signal one"], "parent.2": ["await one", "store a1"]}


def model(programs, policy, invariants=(), **world):
    return CowWorld.scripted(programs, **world).model(policy, list(invariants))


def test_a_new_page_goes_into_the_batch_of_its_threads_cpu():
    m = model(TWO_CPUS, "mainline_7_3", events=["lru"], fresh=["a0", "a1"], cpus={"parent.2": 1})
    _, state = follow(m, "parent store a0", "parent signal one", "parent.2 await one", "parent.2 store a1")
    L = m.layout
    pages = [pte_page(state[L.pte_index(0, a)]) for a in (0, 1)]
    assert [lru_cpu_of(m.kernel, state, g) for g in pages] == [0, 1]


def test_a_drain_empties_one_cpus_batch_only():
    m = model(TWO_CPUS, "mainline_7_3", events=["lru"], fresh=["a0", "a1"], cpus={"parent.2": 1})
    _, state = follow(m, "parent store a0", "parent signal one", "parent.2 await one", "parent.2 store a1")
    L = m.layout
    first, second = (pte_page(state[L.pte_index(0, a)]) for a in (0, 1))
    _, drained = follow_from(m, state, f"kernel lru_drain(page {second})")
    assert drained[L.flags_base + first] & PAGE_LRU_BATCH and not drained[L.flags_base + second] & PAGE_LRU_BATCH


def follow_from(m, state, label):
    enabled = {m.action_label(a): (a, t) for a, t in m.successors(state)}
    assert label in enabled, sorted(enabled)
    return enabled[label]


def test_one_drain_event_per_batch_however_many_pages_it_holds():
    m = model({"parent": ["store a0", "store a1"]}, "page_count", events=["lru"], fresh=["a0", "a1"])
    _, state = follow(m, "parent store a0", "parent store a1")
    drains = sorted(label for label in labels_enabled(m, state) if "lru_drain" in label)
    assert drains == ["kernel lru_drain(page 0)"]
    _, after = follow_from(m, state, drains[0])
    assert not any(after[m.layout.flags_base + g] & PAGE_LRU_BATCH for g in range(m.layout.pages))


def test_cpus_are_checked_when_the_scenario_loads():
    with pytest.raises(WorldError, match="not a thread"):
        CowWorld.scripted({"parent": ["store a0"]}, cpus={"child1": 1})
    with pytest.raises(WorldError, match="CPU 0..3"):
        CowWorld.scripted({"parent": ["store a0"]}, cpus={"parent": 9})


MERGE = {"parent": ["madvise_mergeable a0", "madvise_mergeable a1", "store a0"]}


def test_ksmd_merges_two_identical_pages_into_a_read_only_ksm_page():
    m = model(MERGE, "mainline_7_3", events=["ksm"])
    acts, state = follow(m, "parent madvise_mergeable a0", "parent madvise_mergeable a1", "kernel ksm_merge(page 0)")
    L = m.layout
    ptes = [state[L.pte_index(0, a)] for a in (0, 1)]
    assert {pte_page(p) for p in ptes} == {1} and not any(p & PTE_WRITE for p in ptes)
    assert state[L.flags_base + 1] & PAGE_KSM and not state[L.flags_base + 1] & PAGE_EXCLUSIVE
    acts, state = follow_from(m, state, "parent store a0")
    assert acts.branch == "copy"  # a KSM page is never reused


def test_a_page_with_an_extra_reference_is_never_merged():
    m = model({"parent": ["madvise_mergeable a0", "madvise_mergeable a1", "pin_ro a0 -> pin"]}, "mainline_7_3",
              events=["ksm"])
    _, state = follow(m, "parent madvise_mergeable a0", "parent madvise_mergeable a1", "parent pin_ro a0 -> pin")
    assert not any("ksm_merge" in label for label in labels_enabled(m, state))


def test_the_mapcount_rule_reuses_a_ksm_page_mapped_once():
    m = model({"parent": ["madvise_mergeable a0", "madvise_mergeable a1", "madvise_unmergeable a1", "store a0"]},
              "mapcount", events=["ksm"])
    acts, state = follow(m, "parent madvise_mergeable a0", "parent madvise_mergeable a1", "kernel ksm_merge(page 0)",
                         "parent madvise_unmergeable a1", "parent store a0")
    assert acts[3].branch == "break_ksm_write+copy+unmergeable" and acts[4].branch == "reuse"
    assert not state[m.layout.flags_base + 1] & PAGE_KSM


@pytest.mark.parametrize("policy, branch", [("anon_exclusive", "break_ksm_sigbus+unmergeable"),
                                            ("anon_exclusive_6_2", "break_ksm_unshare+unshare_copy+unmergeable")])
def test_unmerging_under_uffd_wp_before_and_after_6cce3314b928(policy, branch):
    m = model({"parent": ["madvise_mergeable a0", "madvise_mergeable a1", "uffd_wp a0", "madvise_unmergeable a0"]},
              policy, events=["ksm"])
    acts, state = follow(m, "parent madvise_mergeable a0", "parent madvise_mergeable a1", "kernel ksm_merge(page 0)",
                         "parent uffd_wp a0", "parent madvise_unmergeable a0")
    assert acts[-1].branch == branch
    pte = state[m.layout.pte_index(0, 0)]
    assert pte & PTE_UFFD_WP and not pte & PTE_WRITE  # the write-protection stays either way
    assert bool(state[m.layout.flags_base + pte_page(pte)] & PAGE_KSM) == (policy == "anon_exclusive")


def test_only_6_2_on_breaks_ksm_by_unsharing():
    assert get_policy("anon_exclusive_6_2").breaks_ksm_by_unshare and get_policy("mainline_7_3").breaks_ksm_by_unshare
    assert not get_policy("anon_exclusive").breaks_ksm_by_unshare


def test_a_kernel_without_ksm_refuses_the_scenario():
    with pytest.raises(WorldError, match="CONFIG_KSM"):
        CowWorld.scripted(MERGE, events=["ksm"], config=KernelConfig(ksm=False))


@pytest.mark.parametrize("path", ["o10c_remote_lru_batch.py", "o10c_local_lru_batch.py",
                                  "k0_ksm_pinned_never_merged.py", "k1_ksm_ro_pin_write.py",
                                  "k2_ksm_write_no_leak.py", "k3_ksm_unmerge_uffd_wp.py",
                                  "k4_ksm_merge_drops_uffd_wp.py"])
def test_the_specs_verdicts(path):
    spec = runpy.run_path(str(ROOT / "specs" / path))["SPEC"]
    world = spec.world()
    for policy, expected in spec.expect.items():
        result = check(world.model(policy, spec.invariants), SearchOptions())
        assert result.verdict.value == expected, (path, policy)


def test_the_state_document_names_the_batch_cpu_and_the_ksm_page():
    m = model(TWO_CPUS, "mainline_7_3", events=["lru"], fresh=["a0", "a1"], cpus={"parent.2": 1})
    _, state = follow(m, "parent store a0", "parent signal one", "parent.2 await one", "parent.2 store a1")
    assert sorted(page["lru_cpu"] for page in m.state_to_json(state)["pages"].values()) == [0, 1]
    k = model(MERGE, "mainline_7_3", events=["ksm"])
    _, merged = follow(k, "parent madvise_mergeable a0", "parent madvise_mergeable a1", "kernel ksm_merge(page 0)")
    assert [page["ksm"] for page in k.state_to_json(merged)["pages"].values()] == [True]


PROTECTED = {"parent": ["madvise_mergeable a0", "madvise_mergeable a1", "uffd_wp a0", "uffd_wp a1", "signal on",
                        "store a0"],
             "parent.2": ["await on", "uffd_unwp a0"]}


@pytest.mark.parametrize("events, verdict", [((), "holds"), (("ksm",), "violated")])
def test_a_uffd_wp_store_waits_for_the_monitor_unless_a_merge_dropped_the_bit(events, verdict):
    result = check(model(PROTECTED, "mainline_7_3", ["uffd_wp_effective"], events=list(events)), SearchOptions())
    assert result.verdict.value == verdict


def test_the_merged_away_pte_loses_its_uffd_wp_bit_and_the_ksm_page_keeps_its_own():
    m = model(PROTECTED, "mainline_7_3", events=["ksm"])
    _, state = follow(m, "parent madvise_mergeable a0", "parent madvise_mergeable a1", "parent uffd_wp a0",
                      "parent uffd_wp a1", "kernel ksm_merge(page 0)")
    L = m.layout
    assert not state[L.pte_index(0, 0)] & PTE_UFFD_WP and state[L.pte_index(0, 1)] & PTE_UFFD_WP


FAST_PIN = {"parent": ["madvise_mergeable a0", "madvise_mergeable a1", "pin_ro_fast a0 -> pin"]}
MARKED = ("parent madvise_mergeable a0", "parent madvise_mergeable a1")


def test_beside_a_lockless_pin_ksmd_write_protects_then_replaces_under_the_page_lock():
    m = model(FAST_PIN, "mainline_7_3", events=["ksm"])
    assert m.kernel.ksm_in_steps and not model(MERGE, "mainline_7_3", events=["ksm"]).kernel.ksm_in_steps
    L = m.layout
    acts, state = follow(m, *MARKED, "kernel ksm_merge(page 0)")
    assert acts[-1].branch == "ksm_wrprotect"
    assert pte_page(state[L.pte_index(0, 0)]) == 0 and not state[L.pte_index(0, 0)] & PTE_WRITE
    assert state[L.flags_base + 0] & PAGE_LOCKED and state[L.flags_base + 1] & PAGE_KSM
    acts, state = follow(m, *MARKED, "kernel ksm_merge(page 0)", "kernel ksm_merge(page 0)")
    assert acts[-1].branch == "ksm_merge" and pte_page(state[L.pte_index(0, 0)]) == 1
    assert not state[L.flags_base + 1] & PAGE_LOCKED


def test_a_fast_pin_between_the_steps_keeps_the_page_ksmd_then_unmaps_before_5_19():
    m = model(FAST_PIN, "refcount_5_18", events=["ksm"])
    steps = (*MARKED, "kernel ksm_merge(page 0)", "parent pin_ro_fast a0 -> pin", "parent pin_ro_fast a0 -> pin",
             "kernel ksm_merge(page 0)")
    acts, state = follow(m, *steps)
    assert [a.branch for a in acts[-2:]] == ["gup_fast", "ksm_merge"]  # the R/O pin took the write-protected page
    L = m.layout
    assert pte_page(state[L.pte_index(0, 0)]) == 1 and state[L.holder_base] == 0 + 1  # a0 maps the KSM page


def test_from_5_19_the_fast_pin_unshares_and_the_locked_page_is_copied_so_nothing_is_replaced():
    m = model(FAST_PIN, "anon_exclusive", events=["ksm"])
    acts, state = follow(m, *MARKED, "kernel ksm_merge(page 0)", "parent pin_ro_fast a0 -> pin",
                         "parent pin_ro_fast a0 -> pin")
    assert acts[-1].branch == "gup_fast_unpin+unshare_copy"  # gup_must_unshare; the fault's trylock fails
    L = m.layout
    copy = pte_page(state[L.pte_index(0, 0)])
    assert copy not in (0, 1) and state[L.holder_base] == copy + 1  # the pin holds what a0 maps
    assert not any(a.kind == "ksm_merge" and a.page == 0 for a, _ in m.successors(state))  # page 0 is gone
