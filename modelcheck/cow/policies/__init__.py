"""The policy registry: every module of this package that defines ``POLICY``.

Policies are found by scanning the package, so adding one is adding a file.
Each is composed of pieces, one per kernel commit or proposal
(``modelcheck.cow.policies.pieces``); those register themselves as their modules load.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache

from modelcheck.cow.policies.base import (GUP_PIN_COUNTING_BIAS, ForkPage, GupFirst, GupRequest, HugeWriteFault,
                                          KernelWarning, LargeLook, PageInfo, Policy, Unshare, WriteFault)
from modelcheck.cow.policies.pieces import Era, Piece, registered_pieces

__all__ = ["GUP_PIN_COUNTING_BIAS", "Era", "ForkPage", "GupFirst", "GupRequest", "HugeWriteFault", "KernelWarning",
           "LargeLook", "PageInfo", "Piece", "Policy", "Unshare", "WriteFault", "all_pieces", "all_policies",
           "get_policy", "policy_names"]


@cache
def _registry() -> dict[str, Policy]:
    found: dict[str, Policy] = {}
    for info in pkgutil.iter_modules(__path__):
        if info.name in ("base", "catalogue", "pieces", "releases"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        policy = getattr(module, "POLICY", None)
        if isinstance(policy, Policy):
            if policy.name in found:
                raise RuntimeError(f"two policies are named {policy.name!r}")
            found[policy.name] = policy
    return found


def all_policies() -> list[Policy]:
    """Every known policy, merged lines first in the order of their releases, then the proposals."""
    return sorted(_registry().values(), key=lambda p: (_release_key(p.release), p.name))


def policy_names() -> list[str]:
    return [p.name for p in all_policies()]


def get_policy(name: str) -> Policy:
    try:
        return _registry()[name]
    except KeyError:
        raise KeyError(f"unknown policy {name!r} (known: {', '.join(policy_names())})") from None


def all_pieces() -> list[Piece]:
    """Every piece of the package: in the order the policies first use them, then any no policy uses."""
    used = list(dict.fromkeys(p for policy in all_policies() if isinstance(policy, Era) for p in policy.pieces))
    return used + [p for p in registered_pieces() if p not in used]


_FINAL = 1 << 16  # where a release sorts among its release candidates


def _release_key(release: str) -> tuple[int, ...]:
    """'<= v5.7' -> (5, 7, final); 'v5.9-v5.17' -> (5, 9, final); 'v6.15-rc1' -> (6, 15, 1), before v6.15; a
    proposal (no version) sorts last."""
    version, _, rest = release.lstrip("<=> v").split(" ")[0].partition("-")
    candidate = int(rest[2:]) if rest.startswith("rc") and rest[2:].isdigit() else _FINAL
    try:
        return (*(int(x) for x in version.split(".")), candidate)
    except ValueError:
        return (999,)
