"""A policy is its commits: pieces, and the eras composed of them.

A **piece** is one kernel commit (or one proposal that never merged) that
changed a decision. It is a small class that overrides only the decision
methods and flags its commit changed, on top of the rule before it (it may
refine that rule through ``super()``), and it registers itself with the
decorator that names it::

    @commit("09854ba94c6a", "mm: do_wp_page() simplification", "v5.9",
            "reuse only a page mapped once and referenced once; trylock, else copy")
    class DoWpPageSimplification(Pre2020Rule):
        def write_fault(self, page): ...

A proposal is the same with ``@proposal(title, source, date, changes)``,
keyed by its source (docs/sources.md) and date instead of a commit id. A piece
that takes another out (``reverts=``) overrides nothing: the composition drops
the reverted piece, as the kernel's revert did, rather than copying old code.

An **era** is a base rule followed by its pieces in order, the later ones
first in the method resolution order (so ``super()`` in a piece reaches the
rule it refines)::

    PageCountPolicy = era("page_count", "v5.9", GupCowBreakPolicy,
                          [DoWpPageSimplification, RemoveEnforcedCow], summary="...")

The base is the rule before 2020 or an earlier era, whose pieces then come
first. The composed class answers the mechanisms through the same interface
as any policy; its ``commits`` are derived from the pieces in effect.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import ClassVar, TypeVar, cast

from modelcheck.cow.policies.base import Policy

DECISIONS = ("write_fault", "swapin_reuse", "reclaim_skips", "unmap_refuses", "drains_lru_before_reuse",
             "fork_page", "huge_write_fault", "fork_huge", "hugetlb_write_fault", "fork_hugetlb", "gup", "read_gup_unshares", "gup_refuses",
             "large_reuse_unlocked", "large_reuse_locked", "large_reuse_frees_swap",
             "iouring_refuses", "unshare", "clear_refs_skips", "wrprotect_skips", "mprotect_makes_writable", "forced_write_follows", "uffdio_move_refuses")
FLAGS = ("uses_exclusive", "flushes_pending_tlb_before_wp_fault", "clear_refs_flushes_tlb", "odirect_pins",
         "uffd_wp_async", "forced_write_drops_foll_write", "faults_under_vma_lock", "fork_locks_vmas", "uffdio_move",
         "breaks_ksm_by_unshare", "uffd_minor_shmem", "uffd_continue_maps_dirty",
         "zero_page_pins_uncounted", "fork_write_protect_seq", "thp_split_locks_page", "tracks_mm_owners",
         "madvise_collapse", "huge_zero_fault_maps_thp", "swapin_maps_large_folio",
         "swapin_read_maps_exclusive_writable")

_COMMIT_ID = re.compile(r"[0-9a-f]{12}")


@dataclass(frozen=True, eq=False)
class Piece:
    """One commit, or one unmerged proposal, and the decisions it changes in this world."""

    key: str            # the 12-character commit id; for a proposal, its source key and date ("S35 Sep 2020")
    subject: str        # the commit's subject line, or the proposal's title
    release: str        # the first mainline release that had it, or "proposal"
    changes: str        # one line: the behaviour it changes, as this world sees it
    rule: type[Policy]  # the class that overrides just those decisions
    merged: bool = True
    also: tuple[str, ...] = ()    # commits it relies on that change no decision of their own
    reverts: Piece | None = None  # the piece it takes out of every composition that has both

    @property
    def decisions(self) -> tuple[str, ...]:
        """The decision methods and flags this piece overrides."""
        return tuple(name for name in DECISIONS + FLAGS if name in vars(self.rule))

    @property
    def commits(self) -> tuple[str, ...]:
        return (self.key, *self.also) if self.merged else ()


# The registry: every piece, by the class that carries its rule, in the order the modules defined them.
_PIECES: dict[type[Policy], Piece] = {}

R = TypeVar("R", bound=type[Policy])


def commit(commit_id: str, subject: str, release: str, changes: str, *, also: Sequence[str] = (),
           reverts: type[Policy] | None = None) -> Callable[[R], R]:
    """Register the decorated class as the piece of a merged kernel commit."""
    if not _COMMIT_ID.fullmatch(commit_id) or not all(_COMMIT_ID.fullmatch(c) for c in also):
        raise ValueError(f"commit ids are 12 lower-case hex digits: {commit_id!r}, {tuple(also)!r}")
    return _registering(commit_id, subject, release, changes, True, tuple(also), reverts)


def proposal(title: str, source: str, date: str, changes: str, *,
             reverts: type[Policy] | None = None) -> Callable[[R], R]:
    """Register the decorated class as the piece of a proposal that never merged (source: a key of
    docs/sources.md; date: when it was posted)."""
    return _registering(f"{source} {date}", title, "proposal", changes, False, (), reverts)


def _registering(key: str, subject: str, release: str, changes: str, merged: bool, also: tuple[str, ...],
                 reverts: type[Policy] | None) -> Callable[[R], R]:
    def register(rule: R) -> R:
        if any(p.key == key for p in _PIECES.values()):
            raise RuntimeError(f"two pieces are keyed {key!r}")
        extra = [name for name in vars(rule) if not name.startswith("_") and name not in DECISIONS + FLAGS]
        if extra:
            raise TypeError(f"piece {rule.__name__} defines {extra}: a piece overrides decisions only")
        piece = Piece(key, subject, release, changes, rule, merged, also,
                      None if reverts is None else piece_of(reverts))
        if piece.reverts is not None and piece.decisions:
            raise TypeError(f"{rule.__name__} reverts {piece.reverts.key}: it must override nothing")
        _PIECES[rule] = piece
        return rule
    return register


def piece_of(rule: type[Policy]) -> Piece:
    try:
        return _PIECES[rule]
    except KeyError:
        raise KeyError(f"{rule.__name__} is not a registered piece (decorate it with @commit or @proposal)") from None


def registered_pieces() -> list[Piece]:
    """Every piece of the modules imported so far, in the order they were defined."""
    return list(_PIECES.values())


class Era(Policy):
    """A policy composed by ``era()`` of a base rule and pieces; what it answers comes from them."""

    base_rule: ClassVar[type[Policy]]
    pieces: ClassVar[tuple[Piece, ...]]  # in order, reverted ones included
    builds_on: ClassVar[str | None]      # the era whose pieces come first, if any
    added: ClassVar[tuple[Piece, ...]]   # the pieces this era adds to that one (all of them, if none)

    @classmethod
    def in_effect(cls) -> tuple[Piece, ...]:
        """The pieces whose decisions count: every piece that no later piece reverts."""
        return _in_effect(cls.pieces)

    @classmethod
    def reverted_by(cls, piece: Piece) -> Piece | None:
        return next((p for p in cls.pieces if p.reverts is piece), None)


def era(name: str, release: str, base: type[Policy], pieces: Sequence[type[Policy]], *, summary: str) -> type[Era]:
    """Compose a policy: the base rule (or an earlier era's composition), then ``pieces`` in order.

    The class is named after the policy (page_count -> PageCountPolicy) and belongs to the calling module.
    """
    added = tuple(map(piece_of, pieces))
    if issubclass(base, Era):
        base_rule, declared, builds_on = base.base_rule, (*base.pieces, *added), base.name
    else:
        base_rule, declared, builds_on = base, added, None
    for i, piece in enumerate(declared):
        if not issubclass(piece.rule, base_rule):
            raise TypeError(f"{name}: piece {piece.key} does not build on {base_rule.__name__}")
        if piece in declared[:i]:
            raise ValueError(f"{name}: piece {piece.key} comes twice")
        if piece.reverts is not None and piece.reverts not in declared[:i]:
            raise ValueError(f"{name}: {piece.key} reverts {piece.reverts.key}, which does not come before it")
    in_effect = _in_effect(declared)
    commits = tuple(c for p in in_effect for c in p.commits)
    namespace = {"name": name, "release": release, "summary": summary, "commits": commits,
                 "base_rule": base_rule, "pieces": declared, "builds_on": builds_on, "added": added,
                 "__module__": sys._getframe(1).f_globals.get("__name__", __name__),
                 "__doc__": f"The {name} policy: {summary}."}
    class_name = "".join(part.capitalize() for part in name.split("_")) + "Policy"
    bases: tuple[type, ...] = (Era, *(p.rule for p in reversed(in_effect)), base_rule)
    return cast(type[Era], type(class_name, bases, namespace))


def _in_effect(pieces: tuple[Piece, ...]) -> tuple[Piece, ...]:
    reverted = {p.reverts for p in pieces if p.reverts is not None}
    return tuple(p for p in pieces if p not in reverted)
