"""A COW model is an instance of an engine capability protocol exactly when its world offers it."""

import pytest

from modelcheck.cow import CowWorld
from modelcheck.engine import SearchOptions, check
from modelcheck.engine.model import (Batched, BatchForm, Counted, Covered, Footprinted, Model, Parametric,
                                     StepKeyed, Symmetric, SymmetricBatchForm)

PROTOCOLS = (Symmetric, Batched, StepKeyed, Footprinted, Parametric, Covered, Counted)
SCRIPT = {"parent": ["mprotect_ro a0", "mprotect_rw a0", "store a0"]}
EVERY = {Symmetric, Covered}
STEPS = {StepKeyed, Footprinted}

CASES = [
    ("the reference world", CowWorld.reference(2, 1, 0), ["no_leak_across_fork"], EVERY | STEPS | {Batched}),
    ("with a ghost invariant", CowWorld.reference(2, 1, 0), ["no_lost_write"], EVERY | STEPS),
    ("a scenario", CowWorld.scripted(SCRIPT), ["no_spurious_copy"], EVERY | STEPS),
    ("symbolic references", CowWorld.scripted(SCRIPT).with_symbolic_refs(), ["no_spurious_copy"],
     EVERY | {Counted}),
    ("symbolic, open", CowWorld.reference(2, 1, 0).with_symbolic_refs(), ["no_leak_across_fork"], EVERY | {Counted}),
    ("held unknown", CowWorld.scripted(SCRIPT).with_unknown_holders(0), ["no_spurious_copy"], EVERY | {Counted}),
    ("held as a parameter", CowWorld.scripted(SCRIPT).with_unknown_holders(0).with_held_as_parameters(),
     ["no_spurious_copy"], EVERY | STEPS | {Parametric}),
    ("held, fixed", CowWorld.scripted(SCRIPT).with_unknown_holders(0).with_held_as_parameters()
     .with_held_counts({0: 2}), ["no_spurious_copy"], EVERY | STEPS),
]


@pytest.mark.parametrize("world, invariants, offered", [case[1:] for case in CASES], ids=[c[0] for c in CASES])
def test_a_model_offers_exactly_what_its_world_has(world, invariants, offered):
    for policy in ("mapcount", "page_count", "anon_exclusive"):
        model = world.model(policy, invariants)
        assert isinstance(model, Model)
        assert {p for p in PROTOCOLS if isinstance(model, p)} == offered, (policy, type(model).__name__)


def test_the_batch_form_is_a_symmetric_batch_form():
    batch = CowWorld.reference(2, 1, 0).model("page_count", ["no_leak_across_fork"]).batch_successors()
    assert isinstance(batch, BatchForm) and isinstance(batch, SymmetricBatchForm)


def test_parameters_are_named_and_fixed_by_name():
    world = CowWorld.scripted({"parent": ["store a0"]}).with_unknown_holders(0).with_held_as_parameters()
    model = world.model("page_count", ["pin_checks_exact"])
    ((name, (slot, least, most)),) = model.parameters().items()
    assert name == "references held outside on a0" and least == 0 and most >= 1023
    assert model.initial_states()[0][slot] == 0  # the slot a search may leave free (it starts the run at 0)
    fixed = model.fixing({name: 7})
    assert not isinstance(fixed, Parametric)
    assert fixed.state_to_json(fixed.initial_states()[0])["pages"]["0"]["refcount"] == 8
    with pytest.raises(KeyError, match="no parameter"):
        model.fixing({"references held outside on a9": 1})


def test_the_solver_figures_are_the_models_own():
    model = CowWorld.scripted(SCRIPT).with_symbolic_refs().model("page_count", ["no_spurious_copy"])
    result = check(model, SearchOptions())
    assert model.figures()["solver calls"] == result.model_figures["solver calls"] >= 1
