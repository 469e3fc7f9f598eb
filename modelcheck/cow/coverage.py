"""Coverage: what the fired actions of a run cover, and what a run of the world could cover.

An item is an action kind (``action:store``), a policy branch (``copy``,
``fork_copy``, ...) or a thread that completed its program (``end:parent``).
"""

from __future__ import annotations

from typing import Iterable

from modelcheck.cow.actions import Act
from modelcheck.cow.kernel import Machine
from modelcheck.cow.operations import COVERED, PARTIAL, expected, rank


class Coverage:
    """The coverage items of one world (``engine.model.Covered``)."""

    def __init__(self, machine: Machine) -> None:
        self.machine = machine

    def coverage_items(self, acts: Iterable[Act]) -> set[str]:
        items = set()
        for act in acts:
            items.add(f"action:{act.kind}")
            parts = act.branch.split("+")
            items.update(part for part in parts if part in COVERED)
            if act.last and parts[-1] not in PARTIAL:
                items.add(f"end:{act.actor}")
        return items

    def coverage_universe(self) -> list[str]:
        """The action kinds this world can take, and the policy branches they lead to."""
        kinds = self._kinds()
        items = [f"action:{k}" for k in kinds] + self._ends()
        branches = {branch.value for kind in kinds for branch in expected(kind)}
        return items + sorted(branches, key=rank)

    def names(self) -> list[str]:
        """Every item some run of this world could cover under some policy: its action kinds, its threads'
        ends, and the COW world's policy branches."""
        return [f"action:{k}" for k in self._kinds()] + self._ends() + sorted(COVERED, key=rank)

    def _ends(self) -> list[str]:
        scenario = self.machine.scenario
        return [f"end:{t.name}" for t in scenario.threads if t.program] if scenario is not None else []

    def _kinds(self) -> list[str]:
        m = self.machine
        scenario = m.scenario
        if scenario is None:
            kinds = [k for k, on in m.open.items() if on]
        else:
            kinds = sorted({op.kind for t in scenario.threads for op in t.program})
            kinds += [e for e in ("spec_get", "spec_put") if "spec" in scenario.events]
            kinds += ["lru_drain"] if m.lru_on else []
            kinds += ["swap_add", "swap_unmap"] if m.reclaim_on else []
            kinds += ["lock_page", "unlock_page"] if m.lock_on else []
            kinds += ["migrate"] if m.migrate_on else []
        return kinds
