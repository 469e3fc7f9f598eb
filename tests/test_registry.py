"""What the mechanisms and invariants declare is what the world does: the grammar, the dispatch, the
branches and their words, the coverage universe and the ghost state all come from the declarations."""

import pytest

from modelcheck.cow import CowWorld
from modelcheck.cow.invariants import ghost_needed, names
from modelcheck.cow.kernel import Machine
from modelcheck.cow.mechanisms import cpu
from modelcheck.cow.mechanisms.ghost import Ghost
from modelcheck.cow.operations import BRANCH_WORDS, COVERED, OPERATIONS, PARTIAL, Form
from modelcheck.cow.registry import ARGUMENTS, declared, operation
from modelcheck.cow.scenario import ScenarioError, parse_op
from modelcheck.engine import SearchOptions, check


def written_example(decl) -> str:
    return {Form.PLAIN: decl.kind, Form.ADDRESS: f"{decl.kind} a0", Form.TAKES_HOLDER: f"{decl.kind} a0 -> h",
            Form.USES_HOLDER: f"{decl.kind} h", Form.NAMES_CHILD: f"{decl.kind} child1",
            Form.NAMES_TOKEN: f"{decl.kind} t", Form.TWO_ADDRESSES: f"{decl.kind} a0 a1"}[decl.form]


@pytest.mark.parametrize("kind", sorted(OPERATIONS))
def test_the_grammar_is_the_declared_forms(kind):
    decl = OPERATIONS[kind]
    op = parse_op(written_example(decl), "here")
    assert op.kind == kind and (op.addr >= 0) == (decl.form in (Form.ADDRESS, Form.TAKES_HOLDER, Form.TWO_ADDRESSES))
    assert (op.target >= 0) == (decl.form is Form.TWO_ADDRESSES)
    wrong = f"{kind} a0 a1 a2 a3"
    with pytest.raises(ScenarioError, match=f"takes the form '{decl.written}'"):
        parse_op(wrong, "here")
    assert set(decl.params) <= ARGUMENTS and decl.summary


def test_every_operation_runs_its_declared_mechanism():
    """One scenario naming every operation: each action's branch is declared, and so is its kind."""
    world = CowWorld.scripted({"parent": ["signal t", "get_rw a0 -> w", "dma_write w", "dma_read w", "put w", "vmsplice a0",
                                          "pipe_read", "mprotect_ro a0", "mprotect_rw a0", "dontfork a0",
                                          "clear_refs", "uffd_wp a0", "uffd_unwp a0", "uffd_wp_async a1",
                                          "pageout a0", "madvise_mergeable a0", "madvise_unmergeable a0",
                                          "store a0", "load a0", "munmap a0", "exit"],
                               "parent.2": ["await t", "pin_ro a0 -> r", "get_ro a0 -> g", "pin_rw a0 -> p",
                                            "dio_read a0 -> dr", "dio_write a0 -> dw [pin]", "pin_ro_short a0 -> rs",
                                            "pin_rw_short a0 -> ws", "pin_ro_fast a0 -> rf", "pin_rw_fast a0 -> wf",
                                            "iouring_register a0 -> io", "fork",
                                            "wait child1"],
                               "child1": ["exit"]})
    # what a world with swap and uffd-wp does not model with them: the address space rearranged and forced writes
    rearranged = CowWorld.scripted({"parent": ["mremap a0 a1", "dofork a1"]})
    forced = CowWorld.scripted({"parent": ["mprotect_ro a0", "force_write a0"], "parent.2": ["dontneed a0"]})
    moved = CowWorld.scripted({"parent": ["uffd_move a0 a1"]}, fresh=["a1"])
    continued = CowWorld.scripted({"parent": ["uffd_continue a0"]}, file="shmem", maps={"a0": "private"})
    huge = CowWorld.scripted({"parent": ["fork", "mprotect_thp_ro a0", "mprotect_thp_rw a1", "collapse_thp a0",
                                         "pageout_thp a0", "munmap_thp a0"],
                              "child1": ["store a0"]}, thp=2)
    cached = CowWorld.scripted({"parent": ["pageout_thp_cached a0", "load a0"]}, thp=2, thp_pte=True)
    worlds = (world, rearranged, forced, moved, continued, huge, cached)
    assert {op.kind for w in worlds for t in w.scenario.threads for op in t.program} == set(OPERATIONS)
    covered: set[str] = set()
    for w in worlds:
        covered |= set(check(w.model("anon_exclusive", ["refcount_sane"]),
                             SearchOptions(stop_at_first=False, max_states=3000)).covered)
    assert {f"action:{kind}" for kind in OPERATIONS} <= covered


def test_a_branch_no_mechanism_declares_is_an_error_the_first_time_it_fires(monkeypatch):
    model = CowWorld.scripted({"parent": ["store a0"]}).model("page_count", [])
    monkeypatch.setattr(model, "_script_steps", [[(base, lambda k, t, *args: "teleport", args, writes, finish)
                                                  for base, _, args, writes, finish in model._script_steps[0]]])
    with pytest.raises(ValueError, match="branch 'teleport' .* is declared by no mechanism"):
        model.successors(model.initial_states()[0])


def test_branches_say_what_they_declare():
    assert {"reuse", "copy", "fork_copy", "swapin", "tlb_write"} <= COVERED
    assert not {"write", "read", "gup", "put", "copy_start"} & COVERED  # plain outcomes name no coverage item
    assert PARTIAL == {"copy_start", "copy_retry", "flush_pending", "fork_flush_pending", "force_retry", "fork_checked",
                       "gup_fast_pinned", "gup_fast_wait", "thp_mapcount_read",
                       "large_reuse_unlocked", "pmd_cleared", "large_mapcount_dropped", "entire_mapcount_dropped"}
    for name, words in BRANCH_WORDS.items():
        assert words.format(policy="some era") and declared()[name].words == words


def test_an_operation_is_declared_once_and_takes_only_what_mechanisms_take():
    with pytest.raises(ValueError, match="declared twice"):
        operation("store aN", summary="again")(cpu.op_store)
    with pytest.raises(TypeError, match="takes"):
        operation("teleport aN", summary="x")(lambda k, t, where: None)
    with pytest.raises(ValueError, match="not a form"):
        operation("teleport a0 a1", summary="x")


def test_ghost_state_is_what_the_chosen_invariants_declare():
    assert ghost_needed(["no_lost_write"]) == {Ghost.LAST_WRITE}
    assert ghost_needed(["wrprotect_effective", "no_leak_to_child"]) == {Ghost.WRITE_PROTECT}
    assert ghost_needed(["uffd_wp_effective"]) == {Ghost.UFFD_PROTECT}
    assert ghost_needed(["no_kernel_warning"]) == {Ghost.WARNINGS}
    assert ghost_needed([name for name in names() if name not in ("no_lost_write", "wrprotect_effective",
                                                                  "uffd_wp_effective", "no_kernel_warning")]) == set()
    world = CowWorld.scripted({"parent": ["store a0", "load a0"]})
    with_ghost = Machine.build(world, ("no_lost_write",), uses_exclusive=False).layout
    without = Machine.build(world, ("no_leak_to_child",), uses_exclusive=False).layout
    assert with_ghost.features.last_write and not without.features.last_write
    assert with_ghost.size > without.size
