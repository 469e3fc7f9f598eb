"""GUP-fast (pin_ro_fast, pin_rw_fast): the lockless walk takes a page as mapped only where the slow path would
take it without a fault, an unsharing or a refusal, and leaves everything else to the slow path; so each
GUP-fast spec has its slow twin's verdict, counterexample and all (but for the step in which the walk pins the
page before it looks at the PTE again), under every policy."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelcheck.cow import CowWorld
from modelcheck.cow.layout import PTE_WRITE, pte_make, pte_page
from modelcheck.cow.mechanisms.gup import FastBranch, fast_pin_in_flight
from modelcheck.cow.model import CowModel
from modelcheck.cow.operations import PARTIAL
from modelcheck.cow.policies import get_policy, policy_names
from modelcheck.cow.policies.mapcount import Pre2020Rule
from modelcheck.engine import SearchOptions, check
from modelcheck.spec import bind, load_spec

from tests.test_vma_ops import labels, run, step

ROOT = Path(__file__).resolve().parents[1]
TWINS = sorted((path, path.with_name(path.name.replace("_fast", "").replace("f_", "_", 1)))
               for path in (ROOT / "specs").glob("*fast*.py"))  # (their THP runs are twins of each other too)


def last_branch(world: CowWorld, policy: str, *labels: str) -> str:
    """The branch the last of ``labels`` ends in, taking it again while it is mid-operation (GUP-fast pins in
    the walk's step, and keeps the pin or drops it in the next)."""
    model = world.model(policy, [])
    state, acts = run(model, *labels)
    while acts[-1].branch.rpartition("+")[2] in PARTIAL:
        act, state = step(model, state, labels[-1])
        acts.append(act)
    return acts[-1].branch


def test_a_writable_exclusive_page_is_pinned_by_the_walk_itself_in_every_era():
    world = CowWorld.scripted({"parent": ["store a0", "pin_ro_fast a0 -> r", "pin_rw_fast a0 -> w"]})
    for policy in policy_names():
        assert last_branch(world, policy, "parent store a0", "parent pin_ro_fast a0 -> r") == "gup_fast"
        assert last_branch(world, policy, "parent store a0", "parent pin_ro_fast a0 -> r",
                           "parent pin_ro_fast a0 -> r", "parent pin_rw_fast a0 -> w") == "gup_fast"


def test_a_read_only_shared_page_is_pinned_as_mapped_until_unsharing_and_left_to_the_slow_path_after():
    world = CowWorld.scripted({"parent": ["fork", "pin_ro_fast a0 -> pin"]})
    labels = ("parent fork", "parent pin_ro_fast a0 -> pin")
    assert last_branch(world, "page_count_fork_copy", *labels) == "gup_fast"  # no unsharing before 5.19
    assert last_branch(world, "gup_cow_break", *labels) == "gup_fast_fallback+gup_cow_break+copy"
    # gup_must_unshare is asked after the grab (it reads PG_anon_exclusive then): the pin is dropped again
    assert last_branch(world, "anon_exclusive", *labels) == "gup_fast_unpin+unshare_copy"
    assert last_branch(world, "mainline_7_3", *labels) == "gup_fast_unpin+unshare_copy"
    write = CowWorld.scripted({"parent": ["fork", "pin_rw_fast a0 -> pin"]})  # FOLL_WRITE on a R/O PTE
    assert last_branch(write, "mapcount", "parent fork", "parent pin_rw_fast a0 -> pin").startswith(
        "gup_fast_fallback+gup_write_fault+")


def test_the_zero_page_and_a_swap_entry_are_left_to_the_slow_path():
    zero = CowWorld.scripted({"parent": ["load a0", "pin_ro_fast a0 -> pin"]}, fresh=["a0"])
    assert last_branch(zero, "page_count", "parent load a0", "parent pin_ro_fast a0 -> pin") == "gup_fast_fallback+gup"
    assert last_branch(zero, "mainline_7_3", "parent load a0", "parent pin_ro_fast a0 -> pin") == \
        "gup_fast_fallback+unshare_copy"
    swapped = CowWorld.scripted({"parent": ["pageout a0", "pin_ro_fast a0 -> pin"]})
    assert last_branch(swapped, "mainline_7_3", "parent pageout a0", "parent pin_ro_fast a0 -> pin").startswith(
        "gup_fast_fallback+swap")


def test_a_long_term_writable_pin_of_a_dirty_tracked_shared_file_is_refused_on_both_paths_from_6_5():
    world = CowWorld.scripted({"parent": ["store a0", "pin_rw_fast a0 -> pin"]}, file="disk",
                              maps={"a0": "shared"})
    labels = ("parent store a0", "parent pin_rw_fast a0 -> pin")
    assert last_branch(world, "per_vma_lock_6_4", *labels) == "gup_fast"
    # gup_fast_folio_allowed is asked after the grab: the pin is dropped, and the slow path refuses
    assert last_branch(world, "odirect_pins_6_5", *labels) == "gup_fast_unpin+gup_refused"
    shmem = CowWorld.scripted({"parent": ["store a0", "pin_rw_fast a0 -> pin"]}, file="shmem", maps={"a0": "shared"})
    assert last_branch(shmem, "mainline_7_3", *labels) == "gup_fast"


def test_there_are_twins_for_every_fast_spec():
    assert len(TWINS) == 52 and all(slow.exists() for _, slow in TWINS), [s for _, s in TWINS if not s.exists()]


@pytest.mark.parametrize("fast, slow", TWINS, ids=[f.stem for f, _ in TWINS])
def test_a_gup_fast_spec_has_its_slow_twins_verdict_under_every_policy(fast, slow):
    def outcome(path: Path, policy: str) -> tuple[str, int | None]:
        loaded = bind(path, load_spec(path))
        result = check(loaded.world.model(policy, list(loaded.spec.invariants)), SearchOptions())
        trace = result.counterexample
        if trace is None:
            return result.verdict.value, None
        walks = sum(1 for s in trace.steps if FastBranch.GUP_FAST_PINNED.words in s.changes)
        return result.verdict.value, len(trace.steps) - walks

    for policy in policy_names():
        assert outcome(fast, policy) == outcome(slow, policy), policy


def test_a_twin_is_built_as_its_scenario_and_only_of_operations_alike():
    from modelcheck.cow.world import WorldError

    world = CowWorld.scripted({"parent": ["fork", "pin_ro a0 -> pin", "store a0.1"]}, addresses=1)
    twin = world.with_operations_as({"pin_ro": "pin_ro_fast"})
    assert [op.text for op in twin.scenario.threads[0].program] == ["fork", "pin_ro_fast a0 -> pin", "store a0.1"]
    assert twin.scenario.holders[0].kind == "pin_ro_fast" and twin.scenario.holders[0].longterm
    for wrong in ({"pin_ro": "pin_rw_fast"}, {"pin_ro": "store"}, {"pin_ro": "no_such_operation"}):
        with pytest.raises(WorldError, match="one form and reference"):
            world.with_operations_as(wrong)
    scheduled = CowWorld.scripted({"parent": ["store a0"], "parent.2": ["load a0"]}, schedule=["parent.2"])
    with pytest.raises(WorldError, match="without a schedule"):
        scheduled.with_operations_as({"load": "load"})
    fresh = CowWorld.scripted({"parent": ["load a0", "pin_ro a0 -> pin"]}, fresh=["a0"])
    assert fresh.with_operations_as({"pin_ro": "pin_ro_fast"}).scenario.fresh == fresh.scenario.fresh


# -- the walk in two steps, against fork (57efa1fe5957) ---------------------------------------------------------

RACE = CowWorld.scripted({"parent": ["fork", "store a0", "dma_read pin"], "parent.2": ["pin_rw_fast a0 -> pin"]})


def test_fork_checks_a_page_and_write_protects_it_in_two_steps_only_beside_a_lockless_walker():
    assert "fork" in RACE.model("mainline_7_3", []).kernel.stepped
    alone = CowWorld.scripted({"parent": ["fork", "pin_rw_fast a0 -> pin"]})  # the same thread: no race
    assert not alone.model("mainline_7_3", []).kernel.stepped
    assert last_branch(alone, "mainline_7_3", "parent fork") == "fork_share"
    assert last_branch(RACE, "mainline_7_3", "parent fork") == "fork_share"  # the second of its steps
    _, acts = run(RACE.model("mainline_7_3", []), "parent fork")
    assert acts[0].branch == "fork_checked"


def test_a_pin_between_forks_check_and_its_write_protection_is_kept_without_write_protect_seq():
    race = ("parent fork", "parent.2 pin_rw_fast a0 -> pin", "parent.2 pin_rw_fast a0 -> pin", "parent fork")
    model = RACE.model("page_count_early_cow", [])
    after, acts = run(model, *race)
    assert [a.branch for a in acts] == ["fork_checked", "gup_fast_pinned", "gup_fast", "fork_share"]
    L = model.layout
    assert after[L.holder_base] - 1 == pte_page(after[L.pte_index(0, 0)])  # pinned, and shared with the child
    assert not after[L.pte_index(0, 0)] & PTE_WRITE and after[L.pte_index(1, 0)]


def test_with_write_protect_seq_the_walk_waits_for_fork_and_a_walk_begun_before_drops_its_pin():
    model = RACE.model("page_count_fork_copy", [])
    _, acts = run(model, "parent fork", "parent.2 pin_rw_fast a0 -> pin")
    assert acts[-1].branch == "gup_fast_seq+gup_fast_wait"  # the seqcount is odd: no walk
    assert "parent.2 pin_rw_fast a0 -> pin" not in labels(model, run(model, "parent fork",
                                                                     "parent.2 pin_rw_fast a0 -> pin")[0])
    # the walk pinned a0 before fork began: fork copies a0 for the child (it is pinned), and ends at once
    _, acts = run(model, "parent.2 pin_rw_fast a0 -> pin", "parent fork", "parent.2 pin_rw_fast a0 -> pin")
    assert [a.branch for a in acts] == ["gup_fast_pinned", "fork_copy", "gup_fast_unpin+gup"]  # the seqcount moved
    # with a second page to share fork is still at work when the walk looks again: the slow path waits for it
    two = CowWorld.scripted({"parent": ["fork"], "parent.2": ["pin_rw_fast a0 -> pin"]}, addresses=2)
    model = two.model("page_count_fork_copy", [])
    after, acts = run(model, "parent.2 pin_rw_fast a0 -> pin", "parent fork", "parent.2 pin_rw_fast a0 -> pin")
    assert [a.branch for a in acts] == ["gup_fast_pinned", "fork_copy+fork_checked", "gup_fast_unpin+gup_fast_wait"]
    assert labels(model, after) == {"parent fork"}
    _, acts = run(model, "parent.2 pin_rw_fast a0 -> pin", "parent fork", "parent.2 pin_rw_fast a0 -> pin",
                  "parent fork", "parent.2 pin_rw_fast a0 -> pin")
    assert acts[-1].branch == "gup"  # the slow path, once fork dropped mmap_lock


def test_a_pin_the_walk_has_not_kept_yet_is_not_judged():
    from modelcheck.cow.invariants import build_all

    model = RACE.model("page_count_early_cow", ["pin_coherent"])
    after, _ = run(model, "parent.2 pin_rw_fast a0 -> pin")
    assert after[model.layout.holder_base]  # pinned (the refcount counts it) ...
    assert fast_pin_in_flight(model.kernel, after, 0)  # ... but not yet returned to the caller
    pin_coherent = build_all(("pin_coherent",), model.kernel, model.words)[0]
    moved = list(after)
    moved[model.layout.pte_index(0, 0)] = pte_make(2, True)  # the PTE now maps another page
    assert pin_coherent.holds(tuple(moved))


def test_write_protect_seq_is_what_closes_the_race_in_the_anon_exclusive_era_too():
    from modelcheck.cow.policies.page_count_fork_copy import ForkWriteProtectSeq
    from modelcheck.cow.policies.pieces import era, proposal

    @proposal("made up for the test: 57efa1fe5957 taken out again", "S0", "Jan 2000", "GUP-fast ignores fork",
              reverts=ForkWriteProtectSeq)
    class NoWriteProtectSeq(Pre2020Rule):
        """A test piece."""

    try:
        without = era("test_no_write_protect_seq", "proposal", type(get_policy("mainline_7_3")), [NoWriteProtectSeq],
                      summary="mainline_7_3 without write_protect_seq")()
        assert not without.fork_write_protect_seq
        spec = load_spec(ROOT / "specs" / "o19_fork_vs_lockless_pin.py")
        world = bind(ROOT / "specs" / "o19_fork_vs_lockless_pin.py", spec).world
        result = check(CowModel(world, without, list(spec.invariants)), SearchOptions())
        assert result.verdict.value == "violated"
        trace = result.counterexample
        assert trace is not None and [s.label for s in trace.steps][:4] == [
            "parent fork", "parent.2 pin_rw_fast a0 -> pin", "parent.2 pin_rw_fast a0 -> pin", "parent fork"]
        # fork cleared PG_anon_exclusive and shared the page; the walk read a writable PTE, so it never asked
        assert check(world.model("mainline_7_3", list(spec.invariants)), SearchOptions()).verdict.value == "holds"
    finally:
        from modelcheck.cow.policies import pieces

        del pieces._PIECES[NoWriteProtectSeq]


# -- against PageAnonExclusive's clearing protocol (reclaim in two steps, 5.19 on) ---------------------------------

def test_reclaim_clears_the_pte_before_it_looks_for_pins_and_gup_fast_looks_again_after_pinning():
    world = CowWorld.scripted({"parent": ["pin_rw_fast a0 -> p", "store a0"]}, events=["swap"])
    model = world.model("anon_exclusive", ["pin_coherent"])
    assert model.kernel.unmap_in_steps and not world.model("refcount_5_18", []).kernel.unmap_in_steps
    walk, add, unmap = "parent pin_rw_fast a0 -> p", "kernel swap_add(page 0)", "kernel swap_unmap(page 0)"
    # the pin first: reclaim sees it and puts the PTE back as it was; the walk's second look keeps the pin
    after, acts = run(model, add, walk, unmap, unmap, walk)
    assert [a.branch for a in acts[1:]] == ["gup_fast_pinned", "swap_unmap_clear", "swap_unmap_restore", "gup_fast"]
    assert pte_page(after[model.layout.pte_index(0, 0)]) == after[model.layout.holder_base] - 1
    # the PTE cleared first: the walk finds nothing and waits for the page-table lock; after the swap-out it
    # faults the page back in through the slow path
    after, acts = run(model, add, unmap)
    assert "parent pin_rw_fast a0 -> p" not in labels(model, after) and "parent store a0" not in labels(model, after)
    # the pin between the clearing and the check: the walk's second look finds the PTE gone and drops its pin
    _, acts = run(model, add, walk, unmap, walk)
    assert acts[-1].branch == "gup_fast_unpin+gup_fast_wait"
