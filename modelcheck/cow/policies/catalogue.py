"""The policies as plain data, piece by piece.

``catalogue()`` is what ``python -m modelcheck policies`` lists, and what its
``--markdown`` renders into the README's policy table (through
``modelcheck.runner.policy_catalogue``; the command line renders it).
"""

from __future__ import annotations

from typing import TypedDict

from modelcheck.cow.policies.base import Policy
from modelcheck.cow.policies.pieces import Era, Piece
from modelcheck.cow.policies.releases import stands_for


class PieceEntry(TypedDict):
    key: str                # commit id, or a proposal's source key and date
    subject: str
    release: str
    changes: str
    decisions: list[str]    # the decision methods and flags it overrides
    merged: bool
    also: list[str]         # commits it relies on that decide nothing themselves
    reverts: str | None
    reverted_by: str | None  # a later piece of the same policy that takes it out
    added: bool             # this policy adds it (False: it comes from the policy it builds on)


class PolicyEntry(TypedDict):
    name: str
    release: str
    stands_for: str         # the releases it models, derived from its and the later policies' releases
    commits: str            # the commits in effect, comma-separated ("-" for none)
    rule: str               # the policy's one-line summary
    base: str               # the base rule, in one line
    builds_on: str | None
    pieces: list[PieceEntry]


def catalogue() -> list[PolicyEntry]:
    """Every known policy, oldest first, with its pieces in order."""
    from modelcheck.cow.policies import all_policies

    return [_entry(policy) for policy in all_policies()]


def _entry(policy: Policy) -> PolicyEntry:
    era = type(policy)
    commits = ", ".join(policy.commits) or "-"
    if not issubclass(era, Era):  # a policy written by hand as one class
        return PolicyEntry(name=policy.name, release=policy.release, stands_for=stands_for(policy), commits=commits,
                           rule=policy.summary, base=era.__name__, builds_on=None, pieces=[])
    return PolicyEntry(name=policy.name, release=policy.release, stands_for=stands_for(policy), commits=commits,
                       rule=policy.summary, base=_first_line(era.base_rule.__doc__), builds_on=era.builds_on,
                       pieces=[_piece(p, era.reverted_by(p), added=p in era.added) for p in era.pieces])


def _piece(piece: Piece, reverted_by: Piece | None, *, added: bool) -> PieceEntry:
    return PieceEntry(key=piece.key, subject=piece.subject, release=piece.release, changes=piece.changes,
                      decisions=list(piece.decisions), merged=piece.merged, also=list(piece.also),
                      reverts=piece.reverts.key if piece.reverts else None,
                      reverted_by=reverted_by.key if reverted_by else None, added=added)


def _first_line(doc: str | None) -> str:
    return (doc or "").strip().split("\n", 1)[0].rstrip(".")
