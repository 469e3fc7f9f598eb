"""What a COW world offers the engine beyond ``engine.Model``: one small adapter per capability protocol.

The world only says what it has; a search decides from ``isinstance`` checks
against the protocols of ``engine.model`` what it can do with it. So a model's
class is the transition core (``CowModel``) plus exactly the capabilities its
world offers (``model_class``, one class per combination), each a mixin that
hands one protocol's methods to the adapter the core holds:

* ``Symmetric``: page slots are interchangeable (every world but one whose schedule names kernel
  events on pages, or one with a THP, whose folio orders its pages; ``symmetry``);
* ``Covered``: coverage items (every world; ``coverage``);
* ``Batched``: the numpy batch form, where it makes exactly the world's
  transitions (``batch_scope``);
* ``StepKeyed`` and ``Footprinted``: steps one key at a time and what each
  reads and writes, wherever a key's step is one transition function of the
  state: not with symbolic references, where a step has a successor per
  outcome of z3's tests (``adapters.KeyedSteps``);
* ``Parametric``: references held outside in an unknown number, as a
  parameter of the run (``adapters.HeldParameters``);
* ``Counted``: the solver's figures, with symbolic references (``unknowns``);
* ``Decisive``: the policy's choices at a step, and the step with one flipped
  (``decisions``), wherever a step is one transition (as for ``StepKeyed``).
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any, Hashable, Mapping, Sequence, cast

from modelcheck.cow.actions import Act
from modelcheck.cow.adapters import HeldParameters, KeyedSteps, Successors
from modelcheck.cow.batch_scope import batch_applies
from modelcheck.cow.coverage import Coverage
from modelcheck.cow.decisions import PolicyChoices
from modelcheck.cow.invariants import property_names
from modelcheck.cow.kernel import Machine
from modelcheck.cow.model import CowModel
from modelcheck.cow.policies import Policy
from modelcheck.cow.symmetry import PageSymmetry
from modelcheck.cow.unknowns import UnknownReferences
from modelcheck.engine.model import Batched, Choice, Counted, Covered, Decisive, Parametric, StepKeyed, Symmetric

if TYPE_CHECKING:
    from modelcheck.cow.batch import ReferenceBatch
    from modelcheck.cow.world import CowWorld


class OffersSymmetry:
    """``Symmetric``."""

    symmetry: PageSymmetry

    def canonical(self, state: tuple) -> tuple:
        return self.symmetry.canonical(state)


class OffersCoverage:
    """``Covered``."""

    coverage: Coverage

    def coverage_items(self, actions: Any) -> set[str]:
        return self.coverage.coverage_items(actions)

    def coverage_universe(self) -> list[str]:
        return self.coverage.coverage_universe()


class OffersBatch:
    """``Batched``: the batch form, built on first use (numpy is loaded only by the runs that use it)."""

    _batch: ReferenceBatch | None = None
    _compiled_batch: ReferenceBatch | None = None

    def batch_successors(self, compiled: bool = False) -> ReferenceBatch:
        """The numpy form; or, for a run of compiled loops where numba is present, the compiled one."""
        if compiled and self._compiled_batch is None:
            from modelcheck.cow.compiled_batch import CompiledReferenceBatch, numba_present

            if numba_present():
                self._compiled_batch = CompiledReferenceBatch.for_model(cast(CowModel, self))
        if compiled and self._compiled_batch is not None:
            return self._compiled_batch
        if self._batch is None:
            from modelcheck.cow.batch import ReferenceBatch

            batch = ReferenceBatch.for_model(cast(CowModel, self))
            assert batch is not None, "offered only where it applies"
            self._batch = batch
        return self._batch


class OffersSteps:
    """``StepKeyed`` and ``Footprinted``."""

    stepping: KeyedSteps

    def step_keys(self) -> list[Hashable]:
        return list(self.stepping.keys)

    def step_key(self, action: Act) -> Hashable:
        return self.stepping.key_of(action)

    def step(self, state: Any, key: Hashable) -> Successors:
        return self.stepping.step(state, key)

    def footprint(self, state: tuple, key: Hashable) -> tuple[set[int], set[int]]:
        return self.stepping.footprint(state, key)


class OffersParameters:
    """``Parametric``."""

    held: HeldParameters

    def parameters(self) -> dict[str, tuple[int, int, int]]:
        return self.held.parameters()

    def fixing(self, values: Mapping[str, int]) -> CowModel:
        return self.held.fixing(values)


class OffersFigures:
    """``Counted``: the solver's figures."""

    unknowns: UnknownReferences | None

    def figures(self) -> dict[str, float]:
        return self.unknowns.figures() if self.unknowns is not None else {}


class OffersDecisions:
    """``Decisive``."""

    deciding: PolicyChoices

    def choices(self, before: tuple, action: Act) -> list[Choice]:
        return self.deciding.choices(before, action)

    def take_flipped(self, before: tuple, action: Act, which: int) -> tuple[Act, tuple] | None:
        return self.deciding.take_flipped(before, action, which)


MIXINS: dict[type, type] = {Symmetric: OffersSymmetry, Covered: OffersCoverage, Batched: OffersBatch,
                            StepKeyed: OffersSteps, Parametric: OffersParameters, Counted: OffersFigures,
                            Decisive: OffersDecisions}


def offers(machine: Machine, policy: Policy, invariant_names: tuple[str, ...]) -> frozenset[type]:
    """The capability protocols a model of ``machine`` under ``policy`` offers (Footprinted with StepKeyed)."""
    found: set[type] = {Covered}
    scenario = machine.scenario
    # page slots have names where a schedule names kernel events on pages, and where a large folio ties its
    # pages together in an order (symmetry.py renames single pages only)
    if (scenario is None or all(kind == "thread" for kind, _ in scenario.schedule)) and not machine.layout.features.thp:
        found.add(Symmetric)
    if batch_applies(machine, policy, property_names(invariant_names)):
        found.add(Batched)
    if not machine.symbolic:
        found |= {StepKeyed, Decisive}
    if any(count is None for _, count in machine.world.held):
        found.add(Parametric)
    if machine.symbolic:
        found.add(Counted)
    return frozenset(found)


@cache
def model_class(offered: frozenset[type]) -> type[CowModel]:
    """The core plus the capabilities ``offered``, one class per combination."""
    chosen = [protocol for protocol in MIXINS if protocol in offered]
    name = "CowModel[" + ", ".join(protocol.__name__ for protocol in chosen) + "]"
    return cast(type[CowModel], type(name, (CowModel, *(MIXINS[p] for p in chosen)), {"__module__": __name__}))


def bind(world: CowWorld, policy: Policy, invariant_names: Sequence[str]) -> CowModel:
    """``world`` under ``policy``, checking ``invariant_names``, with the capabilities it offers."""
    names = tuple(invariant_names)
    machine = Machine.for_policy(world, names, policy)
    return model_class(offers(machine, policy, names))(world, policy, names, machine)
