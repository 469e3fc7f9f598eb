"""The adapters behind two of the engine's capability protocols: steps by key with footprints, and the
parameters of a run (``capabilities`` decides where a world offers them)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Hashable, Mapping, Protocol, Sequence

from modelcheck.engine.footprint import Tracked
from modelcheck.engine.model import Invariant, Property, TransitionCheck

if TYPE_CHECKING:
    from modelcheck.cow.actions import Act
    from modelcheck.cow.layout import Layout
    from modelcheck.cow.model import CowModel
    from modelcheck.cow.policies import Policy
    from modelcheck.cow.world import CowWorld

HELD_MOST = 1 << 20  # the most held references a parameter stands for (the world's MOST_HELD; a test ties them)
Successors = list[tuple["Act", Any]]


class Keyed(Protocol):
    """What a transition core offers to be stepped one key at a time."""

    def keys(self) -> Sequence[Hashable]: ...

    def key_of(self, act: Act) -> Hashable: ...

    def take(self, s: Any, key: Hashable) -> Successors: ...

    def properties(self) -> Sequence[Property]: ...


class KeyedSteps:
    """``StepKeyed`` and ``Footprinted`` for a transition core."""

    def __init__(self, core: Keyed) -> None:
        self.core = core
        self.keys = tuple(core.keys())

    def key_of(self, act: Act) -> Hashable:
        return self.core.key_of(act)

    def step(self, s: Any, key: Hashable) -> Successors:
        return self.core.take(s, key)

    def footprint(self, s: tuple, key: Hashable) -> tuple[set[int], set[int]]:
        """The slots the step of ``key`` reads and writes from ``s``, and those the properties read to
        judge it and the state after it; for a disabled step, what its enabledness test read.

        Found by taking the step again on a ``Tracked`` state (see ``engine.footprint``).
        """
        reads: set[int] = set()
        writes: set[int] = set()
        out = self.core.take(Tracked(s, reads, writes), key)
        if out:
            (act, after), = out
            after = after.frozen() if isinstance(after, Tracked) else after
            # (a recording stand-in for a state: what the properties read of it is noted)
            judged_before: Any = Tracked(s, reads, set())
            judged_after: Any = Tracked(after, reads, set())
            for prop in self.core.properties():
                if isinstance(prop, Invariant):
                    prop.holds(judged_after)
                elif isinstance(prop, TransitionCheck) and prop.watches(act):
                    prop.holds(judged_before, act, judged_after)
        return reads, writes


class HeldParameters:
    """``Parametric``: the count of references held outside on an address, where the world leaves it open
    (``CowWorld.with_held_as_parameters``), on the address's speculative-reference slot."""

    def __init__(self, world: CowWorld, layout: Layout, policy: Policy, invariant_names: tuple[str, ...]) -> None:
        self.world, self.policy, self.invariant_names = world, policy, invariant_names
        self.slots = {a: layout.spec_base + a for a, count in world.held if count is None}

    @staticmethod
    def name(addr: int) -> str:
        return f"references held outside on a{addr}"

    def parameters(self) -> dict[str, tuple[int, int, int]]:
        return {self.name(a): (slot, 0, HELD_MOST) for a, slot in self.slots.items()}

    def fixing(self, values: Mapping[str, int]) -> CowModel:
        """The model with the parameters set, by name."""
        counts = {self._address(name): value for name, value in values.items()}
        return self.world.with_held_counts(counts).model(self.policy, self.invariant_names)

    def _address(self, name: str) -> int:
        for a in self.slots:
            if name == self.name(a):
                return a
        raise KeyError(f"no parameter {name!r} (the parameters: {', '.join(map(self.name, self.slots))})")
