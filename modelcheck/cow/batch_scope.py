"""Which worlds the numpy batch form (``batch``) serves, decided without loading numpy.

The batch form covers the open reference world with the properties listed in
``PROPERTIES``, and a policy whose decisions are functions of the page
counters it tabulates (``decision_grid``): one that drains an LRU batch first
needs the LRU flag, which that world lacks. Of the kernel's build
configuration (``config.KernelConfig``) it models only the switches listed in
``CONFIG_INDIFFERENT``, those no action of the open world reads (its writes,
reads, forks, unmaps and pipes touch no soft-dirty or uffd-wp bit, no swap and no KSM);
a world whose configuration differs from the full kernel in any other switch
takes the per-state path.
"""

from __future__ import annotations

import itertools
from typing import Iterator

from dataclasses import fields

from modelcheck.cow.config import FULL_KERNEL
from modelcheck.cow.invariants import LEAK_OBSERVERS
from modelcheck.cow.kernel import Machine
from modelcheck.cow.policies import PageInfo, Policy

PROPERTIES = frozenset(LEAK_OBSERVERS) | {"spurious_copies", "no_spurious_copy"}
CONFIG_INDIFFERENT = frozenset({"soft_dirty", "uffd_wp", "swap", "swap_pte_exclusive", "ksm"})
GRID_MOST = 1 << 18  # decision-grid cells the batch form tabulates at most; beyond, tabulating them one policy
                     # call at a time costs more than the batch form saves (W(64,64,0) would need 34 million)


def decision_grid(machine: Machine) -> tuple[int, int]:
    """The most mapcount and the most refcount a page can have in the open world of ``machine``."""
    L = machine.layout
    most_maps = L.processes * L.addresses
    return most_maps, most_maps + L.processes + L.speculative


def grid_cells(machine: Machine) -> int:
    most_maps, most_refs = decision_grid(machine)
    return (most_maps + 1) * (most_refs + 1) * 2


def grid_pages(machine: Machine) -> Iterator[tuple[int, int, int, PageInfo]]:
    """Every (mapcount, refcount, exclusive) of the grid, with the page the policy is shown."""
    most_maps, most_refs = decision_grid(machine)
    for mc, rc, ex in itertools.product(range(most_maps + 1), range(most_refs + 1), (0, 1)):
        yield mc, rc, ex, PageInfo(mapcount=mc, refcount=rc, exclusive=bool(ex))


def batch_applies(machine: Machine, policy: Policy, property_names: frozenset[str]) -> bool:
    """Whether the batch form makes exactly the transitions of this world under ``policy``."""
    world, f = machine.world, machine.layout.features
    if machine.scenario is not None or world.symbolic_refs or world.held_unknown:
        return False
    if any(getattr(world.config, f.name) != getattr(FULL_KERNEL, f.name)
           for f in fields(world.config) if f.name not in CONFIG_INDIFFERENT):
        return False
    if f.vma or f.mm or f.tlb or f.threads or f.holders or f.last_write \
            or f.write_protect or f.cells != 1 or f.extra_pages or machine.pte_flag_bits:
        return False
    if f.pageflags and not policy.uses_exclusive:
        return False
    if not property_names <= PROPERTIES or grid_cells(machine) > GRID_MOST:
        return False
    return not any(policy.drains_lru_before_reuse(page) for _, _, _, page in grid_pages(machine))
