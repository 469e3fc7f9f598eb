"""Coverage: what the fired actions of a run cover, and what a run of the world could cover.

An item is an action kind (``action:store``), a policy branch (``copy``,
``fork_copy``, ...) or a thread that completed its program (``end:parent``).
"""

from __future__ import annotations

from typing import Iterable

from modelcheck.cow.actions import Act
from modelcheck.cow.kernel import Machine
from modelcheck.cow.mechanisms.tlb import PARTIAL

# the decisions a policy takes, as coverage names them
BRANCHES = ("reuse", "copy", "copy_install", "copy_retry", "swapin", "swapin_reuse", "swap_add", "swap_unmap",
            "pageout", "lru_drain", "fork_share", "fork_copy",
            "gup_write_fault", "gup_cow_break", "uffd_fault", "unshare_keep", "unshare_copy", "wrprotect",
            "skip_pinned", "mprotect_upgrade", "tlb_write", "flush_pending", "tlb_flush", "flush_before_fault")


class Coverage:
    """The coverage items of one world (``engine.model.Covered``)."""

    def __init__(self, machine: Machine) -> None:
        self.machine = machine

    def coverage_items(self, acts: Iterable[Act]) -> set[str]:
        items = set()
        for act in acts:
            items.add(f"action:{act.kind}")
            parts = act.branch.split("+")
            items.update(part for part in parts if part in BRANCHES)
            if act.last and parts[-1] not in PARTIAL:
                items.add(f"end:{act.actor}")
        return items

    def coverage_universe(self) -> list[str]:
        """The action kinds this world can take, and the policy branches they lead to."""
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
        items = [f"action:{k}" for k in kinds]
        if scenario is not None:
            items += [f"end:{t.name}" for t in scenario.threads if t.program]
        if {"write", "store"} & set(kinds):
            items += ["reuse", "copy"]
        if m.swap_on:
            items += ["swapin", "swapin_reuse"]
        if "fork" in kinds:
            items += ["fork_share", "fork_copy"]
        return items
