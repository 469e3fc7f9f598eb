"""The policy registry: every module of this package that defines ``POLICY``.

Policies are found by scanning the package, so adding one is adding a file.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache

from modelcheck.cow.policies.base import PageCounts, Policy, WriteFault

__all__ = ["PageCounts", "Policy", "WriteFault", "all_policies", "get_policy", "policy_names"]


@cache
def _registry() -> dict[str, Policy]:
    found: dict[str, Policy] = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name == "base":
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        policy = getattr(module, "POLICY", None)
        if isinstance(policy, Policy):
            if policy.name in found:
                raise RuntimeError(f"two policies are named {policy.name!r}")
            found[policy.name] = policy
    return found


def policy_names() -> list[str]:
    """Names of every known policy, in the order of the eras (oldest first)."""
    return [p.name for p in all_policies()]


def all_policies() -> list[Policy]:
    return sorted(_registry().values(), key=lambda p: (_era_key(p.release), p.name))


def get_policy(name: str) -> Policy:
    try:
        return _registry()[name]
    except KeyError:
        raise KeyError(f"unknown policy {name!r} (known: {', '.join(policy_names())})") from None


def _era_key(release: str) -> tuple[int, ...]:
    """Sort key for a release string such as '<= v5.7' or 'v5.9'."""
    digits = release.lstrip("<=> v").split(" ")[0]
    try:
        return tuple(int(x) for x in digits.split("."))
    except ValueError:
        return (999,)
