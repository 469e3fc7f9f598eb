"""The copy-on-write world: processes, PTEs, pages, pipes, speculative references.

Nothing here knows how the world is searched. ``CowWorld`` is the configuration
a spec picks; ``policies`` holds one module per kernel era; ``invariants`` the
properties a spec can select; ``KernelConfig`` the kernel's build configuration a world runs on.
"""

from modelcheck.cow.config import KernelConfig
from modelcheck.cow.world import ACTION_KINDS, CowWorld, WorldError

__all__ = ["ACTION_KINDS", "CowWorld", "KernelConfig", "WorldError"]
