"""mremap, MADV_DONTNEED, MADV_DOFORK, FOLL_FORCE writes, and fork in two steps against a per-VMA-lock fault.

Each mechanism on small worlds step by step (what moves, what is zapped, what a forced write follows under
each era's rule), the refusals, the eras the new policies stand for, and the three specs' verdicts."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelcheck.cow import CowWorld
from modelcheck.cow.layout import FORCE_COWED, PAGE_EXCLUSIVE, PTE_SOFTDIRTY, PTE_WRITE, VMA_DONTFORK, VMA_WRITE, pte_page
from modelcheck.cow.mechanisms.memory import refcount
from modelcheck.cow.policies import get_policy
from modelcheck.cow.policies.releases import era_policy
from modelcheck.cow.world import WorldError
from modelcheck.engine import SearchOptions, check
from modelcheck.runner import run_spec
from modelcheck.spec import bind, load_spec

ROOT = Path(__file__).resolve().parents[1]


def step(model, state, label: str):
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


def labels(model, state) -> set[str]:
    return {model.action_label(act) for act, _ in model.successors(state)}


# -- mremap ------------------------------------------------------------------------------------------------

def test_mremap_moves_the_pte_its_flags_and_the_pages_exclusivity_and_unmaps_both_old_places():
    model = CowWorld.scripted({"parent": ["mprotect_ro a0", "mremap a0 a1", "store a1"]}).model(
        "anon_exclusive", ["refcount_sane"])
    L = model.layout
    after, acts = run(model, "parent mprotect_ro a0", "parent mremap a0 a1")
    assert acts[-1].branch == "mremap"
    moved = after[L.pte_index(0, 1)]
    assert after[L.pte_index(0, 0)] == 0 and pte_page(moved) == 0  # page 0 itself, not a copy
    assert not moved & PTE_WRITE  # read-only still
    assert after[L.value_index(1)] == 0  # what a1 mapped before is unmapped and freed
    assert after[L.flags_base + 0] & PAGE_EXCLUSIVE and refcount(model.kernel, after, 0) == 1
    assert not after[L.vma_base + 1] & VMA_WRITE  # the VMA moved with it: still PROT_READ
    assert "parent store a1" not in labels(model, after)  # no VM_WRITE: the store cannot go on


def test_a_moved_pte_is_soft_dirty_at_its_new_address():
    model = CowWorld.scripted({"parent": ["clear_refs", "mremap a0 a1"]}).model("anon_exclusive", [])
    cleared, _ = run(model, "parent clear_refs")
    moved, _ = run(model, "parent clear_refs", "parent mremap a0 a1")
    L = model.layout
    assert not cleared[L.pte_index(0, 0)] & PTE_SOFTDIRTY and moved[L.pte_index(0, 1)] & PTE_SOFTDIRTY


def test_an_exclusive_page_moved_by_mremap_is_reused_by_the_next_write_fault():
    model = CowWorld.scripted({"parent": ["mprotect_ro a0", "mremap a0 a1", "mprotect_rw a1", "store a1"]}).model(
        "anon_exclusive", ["no_spurious_copy"])
    state, acts = run(model, "parent mprotect_ro a0", "parent mremap a0 a1", "parent mprotect_rw a1",
                      "parent store a1")
    assert acts[-1].branch == "reuse" and pte_page(state[model.layout.pte_index(0, 1)]) == 0


def test_mremap_of_nothing_fails_and_changes_nothing():
    model = CowWorld.scripted({"parent": ["munmap a0", "mremap a0 a1"]}).model("page_count", [])
    before, _ = run(model, "parent munmap a0")
    act, after = step(model, before, "parent mremap a0 a1")
    assert act.branch == "mremap_efault"
    L = model.layout
    assert after[L.pte_index(0, 0):L.pte_index(0, 1) + 1] == before[L.pte_index(0, 0):L.pte_index(0, 1) + 1]


@pytest.mark.parametrize("programs, kwargs, message", [
    ({"parent": ["mremap a0 a0"]}, {}, "the old and the new address are the same"),
    ({"parent": ["mremap a0.1 a1"]}, {}, "moves whole pages"),
    ({"parent": ["mremap a0 a1"]}, {"fresh": ["a1"]}, "fresh addresses models only"),
    ({"parent": ["pin_rw a0 -> buf", "mremap a0 a1"]}, {}, "a GUP reference of the scenario names \\(buf\\)"),
    ({"parent": ["uffd_wp a0", "mremap a0 a1"]}, {}, "uffd-wp registered"),
])
def test_what_mremap_does_not_model_is_refused_in_one_line(programs, kwargs, message):
    with pytest.raises(WorldError, match=message):
        CowWorld.scripted(programs, **kwargs)


# -- MADV_DONTNEED and MADV_DOFORK --------------------------------------------------------------------------

def test_dontneed_zaps_the_page_and_the_next_accesses_fault_the_zero_page_then_a_fresh_page_in():
    model = CowWorld.scripted({"parent": ["dontneed a0", "load a0", "store a0"]}).model(
        "anon_exclusive", ["no_lost_write", "refcount_sane"])
    L, zero = model.layout, model.kernel.zero_page
    zapped, (act,) = run(model, "parent dontneed a0")
    assert act.branch == "dontneed" and zapped[L.pte_index(0, 0)] == 0 and zapped[L.value_index(0)] == 0
    read, acts = run(model, "parent dontneed a0", "parent load a0")
    assert acts[-1].branch == "zero_map+read" and pte_page(read[L.pte_index(0, 0)]) == zero
    written, acts = run(model, "parent dontneed a0", "parent load a0", "parent store a0")
    assert acts[-1].branch == "zero_copy" and written[L.flags_base + pte_page(written[L.pte_index(0, 0)])] \
        & PAGE_EXCLUSIVE
    assert check(model, SearchOptions()).verdict.value == "holds"  # the load reads zeros: no write was lost


def test_dontneed_keeps_the_vma_so_a_read_only_range_stays_read_only():
    model = CowWorld.scripted({"parent": ["mprotect_ro a0", "dontneed a0", "store a0"]}).model("page_count", [])
    state, _ = run(model, "parent mprotect_ro a0", "parent dontneed a0")
    assert "parent store a0" not in labels(model, state)  # SIGSEGV, as before the zap


def test_a_value_written_before_dontneed_is_not_expected_back():
    """no_lost_write knows the zap: what the owner reads afterwards is zeros, not its earlier store."""
    world = CowWorld.scripted({"parent": ["store a0", "dontneed a0", "load a0"]})
    assert check(world.model("page_count", ["no_lost_write"]), SearchOptions()).verdict.value == "holds"


def test_dofork_undoes_dontfork():
    model = CowWorld.scripted({"parent": ["dontfork a0", "dofork a0", "fork"], "child1": ["load a0"]}).model(
        "page_count", [])
    L = model.layout
    state, acts = run(model, "parent dontfork a0", "parent dofork a0", "parent fork")
    assert acts[1].branch == "dofork" and not state[L.vma_base] & VMA_DONTFORK
    assert pte_page(state[L.pte_index(1, 0)]) == 0  # the child maps the page: fork copied the range
    skipped = CowWorld.scripted({"parent": ["dontfork a0", "fork"]}).model("page_count", [])
    state, _ = run(skipped, "parent dontfork a0", "parent fork")
    assert state[L.pte_index(1, 0)] == 0  # without dofork the child has no mapping there


# -- FOLL_FORCE writes ----------------------------------------------------------------------------------------

def forced(policy: str, extra=()):
    return CowWorld.scripted({"parent": ["mprotect_ro a0", "force_write a0", *extra]}).model(
        policy, ["no_lost_write"])


def test_since_6_0_a_forced_write_follows_a_read_only_pte_of_an_exclusive_page_at_once():
    model = forced("anon_exclusive_6_2")
    state, acts = run(model, "parent mprotect_ro a0", "parent force_write a0")
    L = model.layout
    assert acts[-1].branch == "force_follow"
    assert not state[L.pte_index(0, 0)] & PTE_WRITE and state[L.value_index(0)] != model.tags.code(0, 0)


def test_from_4_9_to_5_19_a_forced_write_faults_first_then_follows_the_dirty_pte_foll_cow():
    model = forced("anon_exclusive")
    L = model.layout
    mid, acts = run(model, "parent mprotect_ro a0", "parent force_write a0")
    assert acts[-1].branch == "reuse+force_retry" and mid[L.force_base] == FORCE_COWED
    done, acts = run(model, "parent mprotect_ro a0", "parent force_write a0", "parent force_write a0")
    assert acts[-1].branch == "force_follow" and done[L.force_base] == 0
    assert not done[L.pte_index(0, 0)] & PTE_WRITE  # the forced fault maps the page read-only


def test_a_forced_write_on_the_zero_page_is_never_followed_it_copies_first_in_every_era():
    for policy in ("dirty_cow", "mapcount", "anon_exclusive", "anon_exclusive_6_2"):
        model = CowWorld.scripted({"parent": ["load a0", "mprotect_ro a0", "force_write a0"]},
                                  fresh=["a0"]).model(policy, [])
        _, acts = run(model, "parent load a0", "parent mprotect_ro a0", "parent force_write a0")
        assert acts[-1].branch == "zero_copy+force_retry", policy


def test_the_dirty_cow_race_writes_the_zero_page_only_before_the_fix():
    world = lambda: CowWorld.scripted({"parent": ["mprotect_ro a0", "force_write a0", "load a1"],
                                       "parent.2": ["dontneed a0"]}, fresh=["a1"])
    model = world().model("dirty_cow", ["no_lost_write"])
    L, zero = model.layout, model.kernel.zero_page
    state, acts = run(model, "parent mprotect_ro a0", "parent force_write a0", "parent.2 dontneed a0",
                      "parent force_write a0")
    assert acts[-1].branch == "zero_map+force_read_fault+force_follow"
    assert state[L.value_index(zero)] != model.tags.code(0, 0)  # the zero page no longer holds zeros
    fixed = world().model("mapcount", ["no_lost_write"])
    _, acts = run(fixed, "parent mprotect_ro a0", "parent force_write a0", "parent.2 dontneed a0",
                  "parent force_write a0")
    assert acts[-1].branch == "anon_fault+force_retry"  # FOLL_WRITE kept: a write fault, a page of its own
    assert check(world().model("dirty_cow", ["no_lost_write"]), SearchOptions()).verdict.value == "violated"
    assert check(world().model("mapcount", ["no_lost_write"]), SearchOptions()).verdict.value == "holds"


@pytest.mark.parametrize("programs, kwargs, message", [
    ({"parent": ["force_write a0"]}, {"events": ["swap"]}, "without swap and without TLBs"),
    ({"parent": ["force_write a0"]}, {"tlb": True}, "without swap and without TLBs"),
    ({"parent": ["force_write a0"], "parent.2": ["munmap a0"]}, {}, "holds mmap_lock for reading"),
    ({"parent": ["force_write a0"], "parent.2": ["fork"]}, {}, "holds mmap_lock for reading"),
    ({"parent": ["force_write a0", "munmap a0"]}, {"fresh": ["a0"]}, "fresh addresses models only"),
])
def test_what_a_forced_write_does_not_model_is_refused_in_one_line(programs, kwargs, message):
    with pytest.raises(WorldError, match=message):
        CowWorld.scripted(programs, **kwargs)


# -- fork in two steps, and a fault under the per-VMA lock ----------------------------------------------------

def b3_world():
    return CowWorld.scripted({"parent": ["fork"], "parent.2": ["store a0", "store a0", "load a0"],
                              "parent.3": ["store a0.1"]}, tlb=True)


def test_with_tlbs_fork_copies_then_flushes_and_the_child_runs_only_after():
    model = CowWorld.scripted({"parent": ["store a0", "fork"], "child1": ["load a0"]}, tlb=True).model(
        "anon_exclusive_6_2", [])
    mid, acts = run(model, "parent store a0", "parent fork")
    assert acts[-1].branch == "fork_share+fork_flush_pending" and mid[0] == 0
    assert "child1 load a0" not in labels(model, mid)
    L = model.layout
    assert mid[L.tlb_base] and not mid[L.pte_index(0, 0)] & PTE_WRITE  # a stale writable entry, until the flush
    done, acts = run(model, "parent store a0", "parent fork", "parent fork")
    assert acts[-1].branch == "fork_flush" and done[0] == 1 and not done[L.tlb_base]
    assert "child1 load a0" in labels(model, done)


def test_between_forks_two_steps_the_parents_other_threads_only_access_memory():
    model = CowWorld.scripted({"parent": ["fork"], "parent.2": ["munmap a0"], "parent.3": ["load a0"]},
                              tlb=True).model("per_vma_lock_6_4", [])
    mid, _ = run(model, "parent fork")
    assert labels(model, mid) == {"parent fork", "parent.3 load a0"}  # munmap waits for mmap_lock
    done, _ = run(model, "parent fork", "parent fork")
    assert "parent.2 munmap a0" in labels(model, done)


@pytest.mark.parametrize("policy, runs", [("anon_exclusive_6_2", False), ("per_vma_lock_6_4", True),
                                          ("odirect_pins_6_5", False), ("mainline_7_3", False)])
def test_a_write_fault_runs_inside_forks_window_only_under_the_unfixed_per_vma_lock(policy, runs):
    model = b3_world().model(policy, ["no_lost_write"])
    mid, _ = run(model, "parent.2 store a0", "parent fork")
    assert ("parent.3 store a0.1" in labels(model, mid)) is runs
    assert "parent.2 store a0" in labels(model, mid)  # through the stale TLB entry: no fault, no lock


@pytest.mark.parametrize("policy, waits", [("per_vma_lock_6_4", False), ("odirect_pins_6_5", True),
                                           ("anon_exclusive_6_2", True)])
def test_fork_waits_for_a_copy_fault_in_flight_unless_it_takes_no_vma_lock(policy, waits):
    model = CowWorld.scripted({"parent": ["fork", "fork"], "parent.2": ["store a0"]}, tlb=True).model(policy, [])
    state, _ = run(model, "parent fork", "parent fork")  # the first fork, both steps: the page is shared
    act, state = step(model, state, "parent.2 store a0")
    assert act.branch.endswith("copy_start")  # the fault copies, in two steps
    assert ("parent fork" not in labels(model, state)) is waits


def test_the_eras_of_the_new_policies():
    assert era_policy("4.8.0") == "dirty_cow" and era_policy("4.9") == "mapcount" and era_policy("5.7") == "mapcount"
    assert era_policy("6.3") == "anon_exclusive_6_2" and era_policy("6.4.1") == "per_vma_lock_6_4"
    assert era_policy("6.5") == "odirect_pins_6_5"
    assert get_policy("odirect_pins_6_5").fork_locks_vmas and get_policy("mainline_7_3").faults_under_vma_lock
    assert not get_policy("anon_exclusive_6_2").faults_under_vma_lock


@pytest.mark.parametrize("stem, violated", [
    ("o14_dirty_cow_dontneed", {"dirty_cow"}),
    ("b3_fork_per_vma_lock", {"per_vma_lock_6_4"}),
    ("m1_mremap_vmsplice_child", {"dirty_cow", "mapcount"}),
])
def test_the_specs_verdicts(stem, violated):
    loaded = bind(ROOT / "specs" / f"{stem}.py", load_spec(ROOT / "specs" / f"{stem}.py"))
    runs = list(run_spec(loaded, loaded.policies(), SearchOptions()))
    assert {r.policy for r in runs if r.result.verdict.value == "violated"} == violated
    assert all(r.as_expected for r in runs)
