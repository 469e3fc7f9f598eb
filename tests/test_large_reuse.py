"""6.15's reuse of a large folio in two looks, munmap of a PMD one counter at a time, and the assertions
between them: 8bdea2fce980 and 4b7c0857f87a (B7, B8), and the ordering contract of 1da190f4d0a6 (B15)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from modelcheck.cow import CowWorld
from modelcheck.cow.kernel import Kernel, MutableSlots
from modelcheck.cow.layout import GATHER_ENTIRE, GATHER_MAPPED, GATHER_SHIFT
from modelcheck.cow.mechanisms.memory import entire_mapcount, folio_pages, mm_mappings, refcount
from modelcheck.cow.mechanisms.thp import OwnerSlots, zap_pmd
from modelcheck.cow.operations import OPERATIONS
from modelcheck.cow.policies import KernelWarning, PageInfo, WriteFault, get_policy
from modelcheck.engine import check
from modelcheck.spec import bind, load_spec

from tests.test_vma_ops import run

SPLIT_AND_UNMAP = CowWorld.scripted({
    "parent": ["fork", "mprotect_ro a1", "signal split", "store a0"],
    "child1": ["await split", "munmap_thp a0"],
}, thp=2)
UNTIL_SPLIT = ("parent fork", "parent mprotect_ro a1", "parent signal split", "child1 await split")


def large(lmc: int, rc: int, *, entire: int = 0, shared: bool = False) -> PageInfo:
    return PageInfo(mapcount=1, refcount=rc, large=True, large_mapcount=lmc, maybe_shared=shared,
                    entire_mapcount=entire, nr_pages=2)


def counters(model, s) -> tuple[int, int, int]:
    """The folio of page 0: (large mapcount, entire mapcount, refcount)."""
    k = model.kernel
    pages = folio_pages(k, s, 0)
    return sum(mm_mappings(k, s, pages, p) for p in range(2)), entire_mapcount(k, s, 0), refcount(k, s, 0)


def test_munmap_of_a_pmd_drops_the_large_mapcount_then_the_entire_mapcount_then_the_reference():
    model = SPLIT_AND_UNMAP.model("mm_owner_6_15", [])
    assert model.kernel.large_reuse_in_steps
    state, _ = run(model, *UNTIL_SPLIT)
    assert counters(model, state) == (3, 1, 3)  # the parent's two PTEs and the child's PMD
    seen = []
    for _ in range(4):
        state, acts = run_from(model, state, "child1 munmap_thp a0")
        seen.append((acts.branch, counters(model, state)))
    assert seen == [("pmd_cleared", (3, 1, 3)), ("large_mapcount_dropped", (2, 1, 3)),
                    ("entire_mapcount_dropped", (2, 0, 3)), ("munmap_thp", (2, 0, 2))]


def run_from(model, state, label):
    for act, after in model.successors(state):
        if model.action_label(act) == label:
            return after, act
    raise AssertionError(f"{label!r} is not enabled")


def test_before_6_15_munmap_and_the_write_fault_take_one_step_each():
    model = SPLIT_AND_UNMAP.model("large_folio_6_9", [])
    assert not model.kernel.large_reuse_in_steps
    _, acts = run(model, *UNTIL_SPLIT, "child1 munmap_thp a0")
    assert acts[-1].branch == "munmap_thp"


def test_the_write_fault_looks_without_the_lock_and_then_under_it():
    model = SPLIT_AND_UNMAP.model("mm_owner_6_15", [])
    done = [*UNTIL_SPLIT, *["child1 munmap_thp a0"] * 4]
    _, acts = run(model, *done, "parent store a0")
    assert acts[-1].branch == "large_reuse_unlocked"
    _, acts = run(model, *done, "parent store a0", "parent store a0")
    assert acts[-1].branch == "reuse"


def test_6_15_rc1_warns_of_an_entire_mapcount_a_half_done_unmap_left_and_the_fix_does_not():
    half = (*UNTIL_SPLIT, "child1 munmap_thp a0", "child1 munmap_thp a0", "parent store a0")
    for policy, warned in (("mm_owner_6_15_rc1", True), ("mm_owner_6_15", False)):
        model = SPLIT_AND_UNMAP.model(policy, ["no_kernel_warning"])
        state, acts = run(model, *half)
        assert acts[-1].branch == "copy"  # the child's reference is still there
        assert bool(state[model.layout.warned_index]) is warned


def test_the_looks_of_each_era():
    rc1, fixed = get_policy("mm_owner_6_15_rc1"), get_policy("mm_owner_6_15")
    half_unmapped = large(2, 3, entire=1)
    assert rc1.large_reuse_unlocked(half_unmapped) == (False, (KernelWarning.ENTIRELY_MAPPED,))
    assert fixed.large_reuse_unlocked(half_unmapped) == (False, ())
    extra_reference = large(2, 3)
    assert rc1.large_reuse_locked(extra_reference) == (False, (KernelWarning.MAPCOUNT_BELOW_REFCOUNT,))
    assert fixed.large_reuse_locked(extra_reference) == (False, ())
    broken_contract = large(3, 2, entire=1)
    assert fixed.large_reuse_locked(broken_contract) == (False, (KernelWarning.MAPCOUNT_ABOVE_REFCOUNT,))
    reusable_but_pmd_mapped = large(2, 2, entire=1)  # only a broken contract gets here
    assert fixed.large_reuse_locked(reusable_but_pmd_mapped) == (True, (KernelWarning.ENTIRELY_MAPPED,))
    assert rc1.large_reuse_unlocked(large(1, 1)) == (False, ())  # mapped once: copied, to free the folio up
    assert rc1.large_reuse_unlocked(large(2, 2, shared=True)) == (False, ())
    for policy in (rc1, fixed, get_policy("mainline_7_3")):  # in one step both looks see the same folio
        assert policy.write_fault(large(2, 2)) is WriteFault.REUSE
        assert policy.write_fault(large(2, 3)) is WriteFault.COPY


@pytest.mark.parametrize("path, policy, verdict", [
    ("specs/b7_large_reuse_sanity_before_lock.py", "mm_owner_6_15_rc1", "violated"),
    ("specs/b7_large_reuse_sanity_before_lock.py", "mm_owner_6_15", "holds"),
    ("specs/b8_large_reuse_inverted_assertion.py", "mm_owner_6_15_rc1", "violated"),
    ("specs/b8_large_reuse_inverted_assertion.py", "mainline_7_3", "holds"),
    ("specs/b15_refcount_covers_mapcount.py", "mm_owner_6_15", "holds"),
    ("specs/b7g_large_reuse_sanity_before_lock_gup.py", "mm_owner_6_15_rc1", "violated"),
    ("specs/b7g_large_reuse_sanity_before_lock_gup.py", "mm_owner_6_15", "holds"),
    ("specs/b8g_large_reuse_inverted_assertion_gup.py", "mm_owner_6_15_rc1", "violated"),
    ("specs/b8g_large_reuse_inverted_assertion_gup.py", "mm_owner_6_15", "holds"),
])
def test_the_6_15_rc_specs(path, policy, verdict):
    loaded = bind(path, load_spec(path))
    result = check(loaded.world.model(policy, loaded.spec.invariants))
    assert result.verdict == verdict
    if verdict == "violated":
        assert result.violations[0].property == "no_kernel_warning"


def drops_the_reference_first(k: Kernel, t: MutableSlots, proc: int, addr: int) -> str | None:
    """A kernel that broke the ordering contract: munmap lets go of the PMD's reference before its rmap."""
    L = k.layout
    i = L.gather_base + proc
    gathered = t[i]
    if not gathered:
        if not t[L.pmd_base + proc]:
            return OPERATIONS["munmap_thp"].run(k, t, proc, addr)
        head = zap_pmd(k, t, proc)
        t[i] = (head + 1) << GATHER_SHIFT | GATHER_MAPPED | GATHER_ENTIRE  # no reference held any more
        return "pmd_cleared"
    if gathered & GATHER_MAPPED:
        t[i] = gathered & ~GATHER_MAPPED
        return "large_mapcount_dropped"
    t[i] = 0
    return "munmap_thp"


def test_a_kernel_that_drops_the_reference_before_the_mapping_is_caught(monkeypatch):
    monkeypatch.setitem(OPERATIONS, "munmap_thp", replace(OPERATIONS["munmap_thp"],
                                                          steps_run=drops_the_reference_first))
    path = "specs/b15_refcount_covers_mapcount.py"
    loaded = bind(path, load_spec(path))
    result = check(loaded.world.model("mm_owner_6_15", loaded.spec.invariants))
    assert result.verdict == "violated" and result.violations[0].property == "refcount_covers_mapcount"
    # and 6.15's own assertion: the fault reuses while the child's PMD is still entirely mapped
    result = check(SPLIT_AND_UNMAP.model("mm_owner_6_15", ["no_kernel_warning"]))
    assert result.verdict == "violated" and "PMD-mapped" in result.violations[0].trace.explanation


def test_the_process_s_other_threads_wait_while_a_fault_holds_the_pte_lock_between_its_looks():
    world = CowWorld.scripted({"parent": ["fork", "wait child1", "store a0"], "parent.2": ["store a1"],
                               "child1": ["exit"]}, thp=2, thp_pte=True)
    model = world.model("mm_owner_6_15", [])
    state, acts = run(model, "parent fork", "child1 exit", "parent wait child1", "parent store a0")
    assert acts[-1].branch == "large_reuse_unlocked"
    enabled = {model.action_label(a) for a, _ in model.successors(state)}
    assert "parent.2 store a1" not in enabled and "parent store a0" in enabled


def test_the_reuse_asserts_under_the_lock_that_this_mm_holds_an_owner_slot():
    for name in ("mm_owner_6_15_rc1", "mm_owner_6_15", "mainline_7_3"):
        policy = get_policy(name)
        assert policy.large_reuse_locked(large(2, 2)) == (True, ())
        assert policy.large_reuse_locked(replace(large(2, 2), holds_owner_slot=False)) == \
            (True, (KernelWarning.NOT_AN_OWNER,))
        assert policy.large_reuse_locked(replace(large(2, 3), holds_owner_slot=False))[1] in \
            ((), (KernelWarning.MAPCOUNT_BELOW_REFCOUNT,))  # no reuse, no such assertion


def test_an_owner_algorithm_that_forgets_the_other_mm_is_caught_by_that_assertion(monkeypatch):
    def forgets_every_slot(slots: OwnerSlots, mm: int, diff: int, total: int) -> None:
        """A broken folio_sub_return_large_mapcount: an MM that lets go frees both slots and the bit."""
        n = slots.ids.index(mm) if mm in slots.ids else -1
        if n >= 0 and slots.counts[n] <= diff:
            slots.ids, slots.counts, slots.shared = [0, 0], [0, 0], False
        elif n >= 0:
            slots.counts[n] -= diff

    world = CowWorld.scripted({"parent": ["fork", "wait child1", "store a0"], "child1": ["exit"]},
                              thp=2, thp_pte=True)
    assert check(world.model("mm_owner_6_15", ["no_kernel_warning"])).verdict == "holds"
    monkeypatch.setattr(OwnerSlots, "sub", forgets_every_slot)
    result = check(world.model("mm_owner_6_15", ["no_kernel_warning"]))
    assert result.verdict == "violated" and "neither of its MM-owner slots" in result.violations[0].trace.explanation


def test_a_fault_that_decides_in_one_step_records_what_both_looks_assert():
    path = "specs/b7g_large_reuse_sanity_before_lock_gup.py"
    loaded = bind(path, load_spec(path))
    model = loaded.world.model("mm_owner_6_15_rc1", ["no_kernel_warning"])
    result = check(model)
    assert result.violations[0].trace.steps[-1].label == "parent pin_rw a0 -> buf"


def test_a_gup_write_fault_takes_the_two_looks_in_two_steps_and_then_pins_what_it_faulted_in():
    world = CowWorld.scripted({"parent": ["fork", "wait child1", "pin_rw a0 -> buf"], "parent.2": ["store a1"],
                               "child1": ["exit"]}, thp=2, thp_pte=True)
    model = world.model("mm_owner_6_15", [])
    state, acts = run(model, "parent fork", "child1 exit", "parent wait child1", "parent pin_rw a0 -> buf")
    assert acts[-1].branch == "gup_write_fault+large_reuse_unlocked"
    L = model.layout
    assert not state[L.holder_base]  # no reference taken yet
    enabled = {model.action_label(a) for a, _ in model.successors(state)}
    assert "parent.2 store a1" not in enabled  # the fault holds the page-table lock between its looks
    state, acts = run(model, "parent fork", "child1 exit", "parent wait child1", "parent pin_rw a0 -> buf",
                      "parent pin_rw a0 -> buf")
    assert acts[-1].branch == "gup_write_fault+reuse+gup"
    assert state[L.holder_base] == 1 and state[L.pte_index(0, 0)] & 1  # page 0 pinned, its PTE writable
