"""Which kernels each policy stands for, derived from the releases the eras declare.

A merged policy (every piece merged) declares the release it starts at (``v6.5``), or a closed range
(``v5.9-v5.17``), or everything up to one (``<= v5.7``). It stands for the releases from its start until
the next merged policy starts (or its declared end): ``era_policy`` names the one for a kernel release
(``uname -r``), and ``stands_for`` says the range in words. The releases are the policies' own; there is
no second table.
"""

from __future__ import annotations

import re

from modelcheck.cow.policies.base import Policy

Version = tuple[int, int]


def kernel_version(release: str) -> Version | None:
    """'6.18.44-fc' -> (6, 18); 'v5.7' -> (5, 7); None for what is not a release."""
    m = re.match(r"^v?(\d+)\.(\d+)", release.strip())
    return (int(m.group(1)), int(m.group(2))) if m else None


def declared_range(release: str) -> tuple[Version, Version | None] | None:
    """A policy's declared release as (first, last or None when open): '<= v5.7', 'v5.8', 'v5.9-v5.17',
    'v6.15-rc1' (the code of a release candidate, open from v6.15); None for a proposal."""
    text = release.strip()
    if text.startswith("<="):
        last = kernel_version(text[2:].strip())
        return ((0, 0), last) if last else None
    first, _, rest = text.partition("-")
    start = kernel_version(first)
    if start is None:
        return None
    if re.fullmatch(r"rc\d+", rest):  # a release candidate: from its release on, until a later policy takes over
        return start, None
    return start, (kernel_version(rest) if rest else None)


def _merged_lines() -> list[tuple[int, Policy, Version, Version | None]]:
    """The merged policies with a declared release: (catalogue position, policy, first, declared last)."""
    from modelcheck.cow.policies import Era, all_policies

    found = []
    for n, policy in enumerate(all_policies()):
        merged = not isinstance(policy, Era) or all(p.merged for p in type(policy).pieces)
        span = declared_range(policy.release)
        if merged and span is not None:
            found.append((n, policy, *span))
    return found


def era_policy(release: str) -> str | None:
    """The merged policy whose declared releases cover ``release``: of those whose first release is at or
    before it and whose last, if declared, is not before it, the one that starts latest (on a tie, the one
    the catalogue lists later, which builds on the other). None for what is not a release."""
    version = kernel_version(release)
    if version is None:
        return None
    best: tuple[Version, int, str] | None = None
    for n, policy, first, last in _merged_lines():
        if first <= version and (last is None or version <= last):
            if best is None or (first, n) > best[:2]:
                best = (first, n, policy.name)
    return best[2] if best else None


def changed_in(policy: str, before: str = "violated", after: str = "holds") -> dict[str, str]:
    """The verdict a spec expects of every merged policy when one era changed it: ``before`` for the policies
    whose releases come before ``policy``'s, ``after`` for ``policy`` and those after it. Proposals are not
    releases: a spec states them (and any era that differs) itself."""
    lines = _merged_lines()
    target = next(((first, n) for n, p, first, _ in lines if p.name == policy), None)
    if target is None:
        raise ValueError(f"changed_in: {policy!r} is not a merged policy with a release")
    return {p.name: before if (first, n) < target else after for n, p, first, _ in lines}


def only_in(policy: str, verdict: str = "violated", others: str = "holds") -> dict[str, str]:
    """The verdict a spec expects of every merged policy when ``policy`` alone differs from the rest (the code
    of a release candidate, fixed before the release): ``verdict`` for it, ``others`` for every other."""
    names = [p.name for _, p, _, _ in _merged_lines()]
    if policy not in names:
        raise ValueError(f"only_in: {policy!r} is not a merged policy with a release")
    return {name: verdict if name == policy else others for name in names}


def stands_for(policy: Policy) -> str:
    """The releases ``policy`` stands for, in words: 'v5.8', 'v6.2 to v6.3', 'v6.5 up to v7.3 (not incl.)',
    'v7.3 on';
    a policy that a later one of the same first release takes over stands for none; a proposal for none."""
    lines = _merged_lines()
    mine = next((line for line in lines if line[1] is policy), None)
    if mine is None:
        return "no release (a proposal)" if declared_range(policy.release) is None else "no release (not merged)"
    n, _, first, last = mine
    later = [(f, m, p.name) for m, p, f, _ in lines if (f, m) > (first, n)]
    successor = min(later, default=None)
    if successor is not None and successor[0] == first:
        return f"no release of its own ({successor[2]} stands for {_named(first)})"
    start = "every release" if first == (0, 0) else _named(first)
    if last is not None and (successor is None or last < successor[0]):
        return f"{start} to {_named(last)}" if first != (0, 0) else f"every release to {_named(last)}"
    if successor is None:
        return f"{start} on"
    (major, minor), (next_major, next_minor) = first, successor[0]
    if major == next_major:  # within one major version, the last release is the one before the next start
        return start if next_minor == minor + 1 else f"{start} to {_named((major, next_minor - 1))}"
    return f"{start} up to {_named(successor[0])} (not incl.)"


def _named(version: Version) -> str:
    return f"v{version[0]}.{version[1]}"
