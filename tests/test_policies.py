"""Every decision of every policy, pinned.

``tests/data/policy_decisions.json`` holds what each policy answered, for every
decision method and flag, on a grid of page states, GUP requests and PTE bits.
It was generated from the policies as they were before they became
compositions of commits; a refactoring must leave every answer as it was.

Regenerate it (``python tests/test_policies.py --write``) only when a decision
is meant to change, and say which and why in the commit.
"""

from __future__ import annotations

import base64
import itertools
import json
import sys
import zlib
from enum import Enum
from functools import cache
from pathlib import Path

import pytest

from modelcheck.cow.policies import GupRequest, PageInfo, Policy, all_policies, get_policy, policy_names

DATA = Path(__file__).resolve().parent / "data" / "policy_decisions.json"
BOTH = (False, True)

GRID = {
    "mapcount": list(range(4)),
    "refcount": [0, 1, 2, 3, 4, 5, 1023, 1024, 1025, 1026, 2048],
    "exclusive": list(BOTH),
    "in_lru_batch": list(BOTH),
    "has_pinned": list(BOTH),
    "in_swapcache": list(BOTH),
    "swapcount": list(range(3)),
    "locked": list(BOTH),
}
REQUEST_GRID = {"write": list(BOTH), "pin": list(BOTH), "longterm": list(BOTH), "pte_writable": list(BOTH)}
# every policy, in the order all_policies() gives them
NAMES = ("mapcount", "gup_cow_break", "page_count", "page_count_fork_copy", "refcount_5_18", "anon_exclusive",
         "anon_exclusive_6_2", "andrea_cor", "jason_2020", "page_count_refuse_wrprotect")
FLAGS = ("uses_exclusive", "flushes_pending_tlb_before_wp_fault", "clear_refs_flushes_tlb")


def pages() -> list[PageInfo]:
    """Every page of the grid, the last field varying fastest."""
    return [PageInfo(**dict(zip(GRID, values))) for values in itertools.product(*GRID.values())]


def requests() -> list[GupRequest]:
    return [GupRequest(**dict(zip(REQUEST_GRID, values))) for values in itertools.product(*REQUEST_GRID.values())]


@cache
def cases(decision: str) -> list[tuple]:
    """The arguments each decision is asked with: the page varies fastest."""
    if decision in ("gup", "read_gup_unshares"):
        return [(request, page) for request in requests() for page in pages()]
    if decision in ("swapin_reuse", "clear_refs_skips", "mprotect_makes_writable"):
        return [(page, bit) for bit in BOTH for page in pages()]
    return [(page,) for page in pages()]


DECISIONS = ("write_fault", "swapin_reuse", "reclaim_skips", "unmap_refuses", "drains_lru_before_reuse",
             "fork_page", "gup", "read_gup_unshares", "unshare", "clear_refs_skips", "wrprotect_skips",
             "mprotect_makes_writable")


def letter(answer: object) -> str:
    """One character per answer: 0/1 for a bool, the first letter of an enum's value (each is distinct)."""
    if isinstance(answer, bool):
        return "1" if answer else "0"
    if isinstance(answer, Enum):
        return str(answer.value)[0]
    raise TypeError(f"a decision answered {answer!r}, neither a bool nor an enum member")


def answers(policy: Policy, decision: str) -> str:
    method = getattr(policy, decision)
    return "".join(letter(method(*args)) for args in cases(decision))


def table(policy: Policy) -> dict[str, object]:
    return {"release": policy.release, "summary": policy.summary,
            "flags": {flag: getattr(policy, flag) for flag in FLAGS},
            "decisions": {d: _pack(answers(policy, d)) for d in DECISIONS}}


def _pack(text: str) -> str:
    return base64.b64encode(zlib.compress(text.encode(), 9)).decode()


def _unpack(packed: str) -> str:
    return zlib.decompress(base64.b64decode(packed)).decode()


def generate() -> dict[str, object]:
    return {"grid": GRID, "request_grid": REQUEST_GRID, "order": policy_names(),
            "policies": {p.name: table(p) for p in all_policies()}}


def _pinned() -> dict:
    return json.loads(DATA.read_text())


def test_the_pinned_table_is_for_this_grid_and_this_order_of_policies():
    pinned = _pinned()
    assert pinned["grid"] == GRID and pinned["request_grid"] == REQUEST_GRID
    assert policy_names() == pinned["order"] == list(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_every_decision_of_the_policy_is_as_pinned(name):
    policy, pinned = get_policy(name), _pinned()["policies"][name]
    assert (policy.release, policy.summary) == (pinned["release"], pinned["summary"])
    assert {flag: getattr(policy, flag) for flag in FLAGS} == pinned["flags"]
    for decision in DECISIONS:
        got, want = answers(policy, decision), _unpack(pinned["decisions"][decision])
        assert len(got) == len(want)
        differing = [i for i, (g, w) in enumerate(zip(got, want)) if g != w]
        assert not differing, (f"{name}.{decision} differs on {len(differing)} of {len(want)} cases, first "
                               f"{cases(decision)[differing[0]]}: {got[differing[0]]!r}, pinned {want[differing[0]]!r}")


def test_the_pinned_table_is_big_enough_to_mean_something():
    per_policy = sum(len(cases(d)) for d in DECISIONS) + len(FLAGS)
    assert per_policy == 190_083 and len(_pinned()["order"]) == 10


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        sys.exit("usage: python tests/test_policies.py --write   (overwrites the pinned decisions)")
    DATA.write_text(json.dumps(generate(), indent=1) + "\n")
    print(f"wrote {DATA}")
