"""The policies as plain data, piece by piece, and the two ways they are shown.

``catalogue()`` is what ``python -m modelcheck policies`` lists (through
``modelcheck.runner.policy_catalogue``); ``text()`` renders it for a terminal
and ``markdown()`` renders the README's policy table, which a test keeps equal
to the registry.
"""

from __future__ import annotations

import textwrap
from typing import TypedDict

from modelcheck.cow.policies.base import Policy
from modelcheck.cow.policies.pieces import Era, Piece


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
        return PolicyEntry(name=policy.name, release=policy.release, commits=commits, rule=policy.summary,
                           base=era.__name__, builds_on=None, pieces=[])
    return PolicyEntry(name=policy.name, release=policy.release, commits=commits, rule=policy.summary,
                       base=_first_line(era.base_rule.__doc__), builds_on=era.builds_on,
                       pieces=[_piece(p, era.reverted_by(p), added=p in era.added) for p in era.pieces])


def _piece(piece: Piece, reverted_by: Piece | None, *, added: bool) -> PieceEntry:
    return PieceEntry(key=piece.key, subject=piece.subject, release=piece.release, changes=piece.changes,
                      decisions=list(piece.decisions), merged=piece.merged, also=list(piece.also),
                      reverts=piece.reverts.key if piece.reverts else None,
                      reverted_by=reverted_by.key if reverted_by else None, added=added)


def _first_line(doc: str | None) -> str:
    return (doc or "").strip().split("\n", 1)[0].rstrip(".")


def text(entries: list[PolicyEntry], width: int = 100) -> str:
    """Per policy its release and rule, then its base and every piece in effect, in order: commit id (or a
    proposal's source and date), release, what it changes. '+' marks the pieces the policy adds to the one
    it builds on; a revert names what it takes out, and the piece it takes out is not listed."""
    keys = max((len(p["key"]) for e in entries for p in e["pieces"]), default=12)
    releases = max((len(p["release"]) for e in entries for p in e["pieces"] if p["merged"]), default=5)
    indent = " " * (4 + keys + 2 + releases + 2)
    out: list[str] = []
    for entry in entries:
        on = f"  (builds on {entry['builds_on']})" if entry["builds_on"] else ""
        out += [f"{entry['name']}  {entry['release']}{on}", f"  {entry['rule']}",
                _wrapped(f"    {'base'.ljust(keys)}  {''.ljust(releases)}  {entry['base']}", indent, width)]
        for p in entry["pieces"]:
            if p["reverted_by"]:
                continue
            release = p["release"] if p["merged"] else ""
            also = f" (with {', '.join(p['also'])})" if p["also"] else ""
            reverts = f"reverts {p['reverts']}: " if p["reverts"] else ""
            line = f"  {'+' if p['added'] else ' '} {p['key'].ljust(keys)}  {release.ljust(releases)}  "
            out.append(_wrapped(line + reverts + p["changes"] + also, indent, width))
        out.append("")
    return "\n".join(out).rstrip("\n") + "\n"


def _wrapped(line: str, indent: str, width: int) -> str:
    head, rest = line[:len(indent)], line[len(indent):]
    return "\n".join(textwrap.wrap(rest, width, initial_indent=head, subsequent_indent=indent))


def markdown(entries: list[PolicyEntry]) -> str:
    """The README's policy table: policy, era, the commits it adds to the policy it builds on, its rule."""
    rows = ["| policy | era | commits | rule |", "|---|---|---|---|"]
    for entry in entries:
        added = [_cited(p) for p in entry["pieces"] if p["added"]]
        commits = ", ".join(added) or "-"
        if entry["builds_on"]:
            commits = f"`{entry['builds_on']}` + {commits}"
        rows.append(f"| `{entry['name']}` | {entry['release']} | {commits} | {entry['rule']} |")
    return "\n".join(rows) + "\n"


def _cited(piece: PieceEntry) -> str:
    text = piece["key"] + (f" (with {', '.join(piece['also'])})" if piece["also"] else "")
    return text + (f" (reverts {piece['reverts']})" if piece["reverts"] else "")
