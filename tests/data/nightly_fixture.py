"""A spec for the nightly tests: C1's scenario under page_count and under ``fixture_rule``, a policy of this file.

With ``BROKEN = False`` the fixture's rule is page_count's; the nightly tests
copy this file with ``BROKEN = True``, which makes the rule reuse the page on
every write fault, whatever shares it: the parent's write after fork then
reaches the child, a regression the nightly run must name. The policy is
the fixture's own (given to ``CowWorld.model`` as an object), never one of
the registry's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from modelcheck import Spec
from modelcheck.cow import CowWorld
from modelcheck.cow.policies import PageInfo, WriteFault
from modelcheck.cow.policies.page_count import PageCountPolicy

BROKEN = False


class FixtureRule(PageCountPolicy):
    """page_count, or with BROKEN a write fault that always reuses (the bug CVE-2020-29374 was, and worse)."""

    name = "fixture_rule"

    def write_fault(self, page: PageInfo) -> WriteFault:
        return WriteFault.REUSE if BROKEN else super().write_fault(page)


@dataclass(frozen=True)
class FixtureWorld:
    """A scripted world that knows one more policy than the registry."""

    world: CowWorld

    def policy_names(self) -> list[str]:
        return ["page_count", "fixture_rule"]

    def invariant_names(self) -> list[str]:
        return self.world.invariant_names()

    def describe(self) -> str:
        return self.world.describe()

    def model(self, policy: str, invariants: Sequence[str]) -> Any:
        return self.world.model(FixtureRule() if policy == "fixture_rule" else policy, invariants)

    def variants(self) -> list[str]:
        return []

    def variant(self, name: str) -> None:
        return None

    def required_coverage(self) -> list[str]:
        return self.world.required_coverage()


SPEC = Spec(
    id="FIX",
    title="basic COW after fork(), fixture policy",
    world=lambda: FixtureWorld(CowWorld.scripted({"parent": ["fork", "store a0"], "child1": ["load a0"]})),
    invariants=["no_leak_to_child"],
    expect={"page_count": "holds", "fixture_rule": "holds"},
)
