"""UFFDIO_MOVE (adef440691ba, v6.8): what moves, what fails with EBUSY, and a kernel that moved too much caught."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelcheck.cow import CowWorld
from modelcheck.cow.capabilities import bind
from modelcheck.cow.layout import PAGE_EXCLUSIVE, PTE_WRITE, pte_page
from modelcheck.cow.mechanisms.memory import refcount
from modelcheck.cow.policies import get_policy
from modelcheck.cow.policies.releases import era_policy
from modelcheck.cow.world import WorldError
from modelcheck.engine import SearchOptions, Verdict, check
from modelcheck.spec import load_spec

ROOT = Path(__file__).resolve().parents[1]


def run(model, *labels: str):
    state = model.initial_states()[0]
    acts = []
    for label in labels:
        found = [(act, after) for act, after in model.successors(state) if model.action_label(act) == label]
        assert found, (label, [model.action_label(a) for a, _ in model.successors(state)])
        act, state = found[0]
        acts.append(act)
    return state, acts


def test_an_exclusive_page_moves_without_a_copy_and_leaves_its_address_empty():
    model = CowWorld.scripted({"parent": ["uffd_move a0 a1", "load a0"]}, fresh=["a1"]).model(
        "uffd_move_6_8", ["refcount_sane"])
    L = model.layout
    after, acts = run(model, "parent uffd_move a0 a1")
    assert acts[-1].branch == "uffd_move"
    moved = after[L.pte_index(0, 1)]
    assert after[L.pte_index(0, 0)] == 0 and pte_page(moved) == 0 and moved & PTE_WRITE
    assert after[L.flags_base + 0] & PAGE_EXCLUSIVE and refcount(model.kernel, after, 0) == 1
    after, acts = run(model, "parent uffd_move a0 a1", "parent load a0")
    assert acts[-1].branch == "zero_map+read"  # the emptied address faults the zero page in


def test_a_page_shared_with_a_child_does_not_move():
    model = CowWorld.scripted({"parent": ["fork", "uffd_move a0 a1"]}, fresh=["a1"]).model("mainline_7_3", [])
    L = model.layout
    after, acts = run(model, "parent fork", "parent uffd_move a0 a1")
    assert acts[-1].branch == "uffd_move_busy"  # fork cleared PG_anon_exclusive
    assert pte_page(after[L.pte_index(0, 0)]) == 0 and after[L.pte_index(0, 1)] == 0


def test_before_6_8_there_is_no_such_ioctl_and_6_18_has_it():
    model = CowWorld.scripted({"parent": ["uffd_move a0 a1"]}, fresh=["a1"]).model("uffd_wp_async_6_7", [])
    _, acts = run(model, "parent uffd_move a0 a1")
    assert acts[-1].branch == "uffd_move_refused"
    assert era_policy("6.18.44") == "mm_owner_6_15" and get_policy("mainline_7_3").uffdio_move
    assert not get_policy("uffd_wp_async_6_7").uffdio_move


def test_a_kernel_that_moved_a_page_shared_with_a_child_leaks_the_parents_write():
    spec = load_spec(ROOT / "specs" / "s8_uffd_move_shared.py")
    fixed = get_policy("uffd_move_6_8")

    class MovesShared(type(fixed)):  # type: ignore[misc,valid-type]
        name = "uffd_move_without_the_exclusive_check"

        def uffdio_move_refuses(self, page):
            return page.maybe_dma_pinned

    verdicts = [check(bind(spec.world(), policy, list(spec.invariants)), SearchOptions()).verdict
                for policy in (fixed, MovesShared())]
    assert verdicts == [Verdict.HOLDS, Verdict.VIOLATED]


def test_a_kernel_that_moved_a_pinned_page_leaves_the_device_behind():
    spec = load_spec(ROOT / "specs" / "s8_uffd_move_pinned.py")
    fixed = get_policy("mainline_7_3")

    class MovesPinned(type(fixed)):  # type: ignore[misc,valid-type]
        name = "uffd_move_without_the_pin_check"

        def uffdio_move_refuses(self, page):
            return not page.exclusive

    verdicts = [check(bind(spec.world(), policy, list(spec.invariants)), SearchOptions()).verdict
                for policy in (fixed, MovesPinned())]
    assert verdicts == [Verdict.HOLDS, Verdict.VIOLATED]


def test_a_mapped_destination_or_a_hole_at_the_source_changes_nothing():
    mapped = CowWorld.scripted({"parent": ["uffd_move a0 a1"]}).model("mainline_7_3", [])  # a1 has its page
    after, acts = run(mapped, "parent uffd_move a0 a1")
    initial, L = mapped.initial_states()[0], mapped.layout
    assert acts[-1].branch == "uffd_move_refused"
    assert [after[L.pte_index(0, a)] for a in (0, 1)] == [initial[L.pte_index(0, a)] for a in (0, 1)]
    hole = CowWorld.scripted({"parent": ["dontneed a0", "uffd_move a0 a1"]}, fresh=["a1"]).model("mainline_7_3", [])
    before, _ = run(hole, "parent dontneed a0")
    after, acts = run(hole, "parent dontneed a0", "parent uffd_move a0 a1")
    assert acts[-1].branch == "uffd_move_refused"
    L = hole.layout
    assert after[L.pte_index(0, 0)] == before[L.pte_index(0, 0)] == 0 and after[L.pte_index(0, 1)] == 0


def test_misuse_is_one_line():
    with pytest.raises(WorldError, match="uffd_move a0"):
        CowWorld.scripted({"parent": ["uffd_move a0"]})


def test_the_c_reproducer_moves_and_expects_what_the_model_moved():
    """The program registers the destination, asks UFFDIO_MOVE and then expects what the model's kernel did:
    after a move, a1 shows a0's last write and a0 zeros; after EBUSY, a1 is a fresh page (zeros)."""
    import re

    from modelcheck.reproduce import c_reproducer, prepare, program_order_record
    from modelcheck.spec import bind as bind_spec
    from modelcheck.engine import SearchOptions as Options

    def allowed(name: str, prop: str) -> tuple[str, list[str]]:
        path = ROOT / "specs" / name
        loaded = prepare(bind_spec(path, load_spec(path)), Options())
        source = c_reproducer(program_order_record(loaded, prop, "uffd_move_6_8"))
        return source, re.findall(r"allowed\[\] = \{ ([^}]*) \}", source)

    source, checks = allowed("s8_uffd_move_exclusive.py", "no_lost_write")
    assert "do_uffd_move(2, 0, 1)" in source and "UFFDIO_REGISTER_MODE_MISSING" in source
    assert checks == ["0xc0ffee00000001ULL", "0x0ULL", "0xc0ffee00000005ULL"]  # load a1, load a0, load a1
    source, checks = allowed("s8_uffd_move_shared.py", "no_lost_write")
    assert "do_uffd_move(2, 0, 1)" in source and checks == ["0xc0ffee00000000ULL"]  # the child keeps a0 as forked
