"""The kernel's build configuration, a parameter of the world: which optional mechanisms the kernel has.

The COW rules of an era are the same whatever the kernel was built with, but
which paths a program takes is not: without soft-dirty tracking clear_refs
write-protects nothing and mprotect(PROT_READ|PROT_WRITE) never waits for a
soft-dirty write fault; without swap MADV_PAGEOUT reclaims nothing; without
the architecture's swap-PTE exclusive bit a swapped-in page is exclusive only
if the refcount test says so. ``KernelConfig()`` (every switch on) is the
kernel every spec was written for; a spec asks for another with
``CowWorld.scripted(..., config=KernelConfig(soft_dirty=False))``.

What each switch is in the kernel (facts read in the 7.1.5 tree):

* ``soft_dirty`` CONFIG_MEM_SOFT_DIRTY (``pgtable_supports_soft_dirty()``).
  Off: writing 4 to clear_refs is accepted and returns the count written (no
  EINVAL: the type is range-checked, not the config), the walk visits every
  PTE, but clear_soft_dirty returns at once, so no PTE loses its write bit;
  VM_SOFTDIRTY is 0, so no VMA changes; the mm's TLB is still flushed.
  mprotect's can_change_pte_writable asks pte_needs_soft_dirty_wp, which is
  false when vma_soft_dirty_enabled is false: the upgrade then rests on
  PageAnonExclusive and the era's other conditions alone. (The IS_ENABLED
  test before VM_SOFTDIRTY came with vma_soft_dirty_enabled, Peter Xu's fix
  of 64fe24a3e05e's soft-dirty check in the same release, 76aefad628aa: its
  id and v6.0 form are not verified here, the 7.1.5 form is.)
* ``uffd_wp`` userfaultfd write-protection (CONFIG_HAVE_ARCH_USERFAULTFD_WP,
  with CONFIG_PTE_MARKER_UFFD_WP for the markers; ``pgtable_supports_uffd_wp()``).
  Off: UFFDIO_REGISTER with UFFDIO_REGISTER_MODE_WP fails with EINVAL, so no
  scenario with uffd_wp / uffd_unwp can be built.
* ``swap`` CONFIG_SWAP (or, what a program sees the same way, no swap space).
  Off: MADV_PAGEOUT is accepted, but reclaim cannot add an anonymous page to
  a swap cache, so the page stays mapped; reclaim events cannot happen.
* ``swap_pte_exclusive`` __HAVE_ARCH_PTE_SWP_EXCLUSIVE. x86, arm64, s390 and
  ppc64 have it from 5.19 (1493a1913e34, 3e20889cfbee), every architecture
  with swap PTEs from 6.3. Off: pte_swp_mkexclusive keeps nothing, so
  do_swap_page finds no exclusive marker and falls back to the refcount test
  (reuse only when nothing but the faulting PTE holds the page).
* ``ksm`` CONFIG_KSM. Off: madvise accepts MADV_MERGEABLE and MADV_UNMERGEABLE
  only under CONFIG_KSM (madvise_behavior_valid), so both fail with EINVAL and
  ksmd does not exist: a scenario with KSM operations or ``ksm`` events cannot
  be built.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Mapping

SWITCHES = {
    "soft_dirty": "CONFIG_MEM_SOFT_DIRTY",
    "uffd_wp": "CONFIG_PTE_MARKER_UFFD_WP",
    "swap": "CONFIG_SWAP",
    "swap_pte_exclusive": "__HAVE_ARCH_PTE_SWP_EXCLUSIVE",
    "ksm": "CONFIG_KSM",
}


@dataclass(frozen=True)
class KernelConfig:
    """Which optional mechanisms the kernel was built with (every one of them by default)."""

    soft_dirty: bool = True
    uffd_wp: bool = True
    swap: bool = True
    swap_pte_exclusive: bool = True
    ksm: bool = True

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if not isinstance(value, bool):
                raise ValueError(f"kernel configuration: {f.name} is true or false, not {value!r}")

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> "KernelConfig":
        """The configuration a trace recorded (``to_json``); switches it does not name are on."""
        unknown = set(document) - set(SWITCHES)
        if unknown:
            raise ValueError(f"kernel configuration: unknown switch(es) {', '.join(sorted(unknown))} "
                             f"(known: {', '.join(SWITCHES)})")
        return cls(**dict(document))

    def to_json(self) -> dict[str, bool]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def source(self) -> str:
        """The Python that builds this configuration: ``KernelConfig(soft_dirty=False)``."""
        off = [f"{f.name}=False" for f in fields(self) if not getattr(self, f.name)]
        return f"KernelConfig({', '.join(off)})"

    def missing(self) -> list[str]:
        """The kernel options this configuration lacks, by their kernel names."""
        return [SWITCHES[f.name] for f in fields(self) if not getattr(self, f.name)]

    def describe(self) -> str:
        """'' for the full kernel, else 'without CONFIG_...'."""
        missing = self.missing()
        return "without " + ", ".join(missing) if missing else ""


FULL_KERNEL = KernelConfig()
