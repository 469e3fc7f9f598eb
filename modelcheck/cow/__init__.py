"""The copy-on-write world: processes, PTEs, pages, pipes, speculative references.

Nothing here knows how the world is searched. ``CowWorld`` is the configuration
a spec picks; ``policies`` holds one module per kernel era; ``invariants`` the
properties a spec can select; ``KernelConfig`` the kernel's build configuration a world runs on;
``changed_in`` the expectations of a spec whose verdict one era changed, ``only_in`` those of one where
a single era differs from all the others.
"""

from modelcheck.cow.config import KernelConfig
from modelcheck.cow.policies.releases import changed_in, only_in
from modelcheck.cow.world import ACTION_KINDS, CowWorld, WorldError

__all__ = ["ACTION_KINDS", "CowWorld", "KernelConfig", "WorldError", "changed_in", "only_in"]
