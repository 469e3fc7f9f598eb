"""GUP-fast (pin_ro_fast, pin_rw_fast): the lockless walk takes a page as mapped only where the slow path would
take it without a fault, an unsharing or a refusal, and leaves everything else to the slow path; so each
GUP-fast spec has its slow twin's verdict, counterexample and all, under every policy."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelcheck.cow import CowWorld
from modelcheck.cow.policies import policy_names
from modelcheck.engine import SearchOptions, check
from modelcheck.spec import bind, load_spec

from tests.test_vma_ops import run

ROOT = Path(__file__).resolve().parents[1]
TWINS = sorted((path, path.with_name(path.name.replace("_fast", "").replace("f_", "_", 1)))
               for path in (ROOT / "specs").glob("*fast*.py"))


def last_branch(world: CowWorld, policy: str, *labels: str) -> str:
    _, acts = run(world.model(policy, []), *labels)
    return acts[-1].branch


def test_a_writable_exclusive_page_is_pinned_by_the_walk_itself_in_every_era():
    world = CowWorld.scripted({"parent": ["store a0", "pin_ro_fast a0 -> r", "pin_rw_fast a0 -> w"]})
    for policy in policy_names():
        assert last_branch(world, policy, "parent store a0", "parent pin_ro_fast a0 -> r") == "gup_fast"
        assert last_branch(world, policy, "parent store a0", "parent pin_ro_fast a0 -> r",
                           "parent pin_rw_fast a0 -> w") == "gup_fast"


def test_a_read_only_shared_page_is_pinned_as_mapped_until_unsharing_and_left_to_the_slow_path_after():
    world = CowWorld.scripted({"parent": ["fork", "pin_ro_fast a0 -> pin"]})
    labels = ("parent fork", "parent pin_ro_fast a0 -> pin")
    assert last_branch(world, "page_count_fork_copy", *labels) == "gup_fast"  # no unsharing before 5.19
    assert last_branch(world, "gup_cow_break", *labels) == "gup_fast_fallback+gup_cow_break+copy"
    assert last_branch(world, "anon_exclusive", *labels) == "gup_fast_fallback+unshare_copy"
    assert last_branch(world, "mainline_7_3", *labels) == "gup_fast_fallback+unshare_copy"
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
    assert last_branch(world, "odirect_pins_6_5", *labels) == "gup_fast_fallback+gup_refused"
    shmem = CowWorld.scripted({"parent": ["store a0", "pin_rw_fast a0 -> pin"]}, file="shmem", maps={"a0": "shared"})
    assert last_branch(shmem, "mainline_7_3", *labels) == "gup_fast"


def test_there_are_twins_for_every_fast_spec():
    assert len(TWINS) == 17 and all(slow.exists() for _, slow in TWINS), [s for _, s in TWINS if not s.exists()]


@pytest.mark.parametrize("fast, slow", TWINS, ids=[f.stem for f, _ in TWINS])
def test_a_gup_fast_spec_has_its_slow_twins_verdict_under_every_policy(fast, slow):
    def outcome(path: Path, policy: str) -> tuple[str, int | None]:
        loaded = bind(path, load_spec(path))
        result = check(loaded.world.model(policy, list(loaded.spec.invariants)), SearchOptions())
        trace = result.counterexample
        return result.verdict.value, len(trace.steps) if trace is not None else None

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
