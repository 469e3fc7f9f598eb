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
import os
import re
import sys
import zlib
from dataclasses import replace
from enum import Enum
from functools import cache
from pathlib import Path

import pytest

from modelcheck.cow.policies import (Era, ForkPage, GupRequest, KernelWarning, PageInfo, Policy, WriteFault,
                                     all_pieces, all_policies, get_policy, policy_names)
from modelcheck.cow.policies.gup_cow_break import ForcedCowBreakInGup
from modelcheck.cow.policies.mapcount import Pre2020Rule
from modelcheck.cow.policies.page_count import DoWpPageSimplification, RemoveEnforcedCow
from modelcheck.cow.policies.pieces import DECISIONS, FLAGS, era, piece_of, proposal
from modelcheck.faces.cli import main
from modelcheck.runner import policy_catalogue

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data" / "policy_decisions.json"
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
    "ksm": list(BOTH),
}
# the THP and hugetlb decisions, and the write and unsharing faults again, are asked of pages of a large folio
LARGE_GRID = {
    "mapcount": [1, 2],
    "refcount": [1, 2, 3, 4, 1024, 1025],
    "exclusive": list(BOTH),
    "has_pinned": list(BOTH),
    "in_swapcache": list(BOTH),
    "swapcount": [0, 1],
    "ksm": list(BOTH),
    "large": [True],
    "pincount": [0, 1],
    "large_mapcount": [0, 1, 2, 3],
    "maybe_shared": list(BOTH),
}
REQUEST_GRID = {"write": list(BOTH), "pin": list(BOTH), "longterm": list(BOTH), "pte_writable": list(BOTH)}
# the refusals are asked of requests that also say what the VMA is (file mappings)
VMA_REQUEST_GRID = {**REQUEST_GRID, "cow_mapping": list(BOTH), "anon_vma": list(BOTH),
                    "needs_dirty_tracking": list(BOTH)}
# every policy, in the order all_policies() gives them
NAMES = ("dirty_cow", "mapcount", "gup_cow_break", "page_count", "page_count_early_cow", "page_count_fork_copy",
         "refcount_5_18", "anon_exclusive", "anon_exclusive_6_2", "per_vma_lock_6_4", "odirect_pins_6_5", "uffd_wp_async_6_7",
         "uffd_move_6_8", "large_folio_6_9", "large_swapin_6_11", "huge_zero_thp_6_13", "mm_owner_6_15_rc1",
         "mm_owner_6_15",
         "mainline_7_3", "andrea_cor", "jason_2020",
         "page_count_refuse_wrprotect")
PINNED_FLAGS = ("uses_exclusive", "flushes_pending_tlb_before_wp_fault", "clear_refs_flushes_tlb", "odirect_pins",
                "uffd_wp_async", "forced_write_drops_foll_write", "faults_under_vma_lock", "fork_locks_vmas",
                "uffdio_move", "breaks_ksm_by_unshare", "uffd_minor_shmem", "uffd_continue_maps_dirty",
                "zero_page_pins_uncounted", "fork_write_protect_seq", "thp_split_locks_page", "tracks_mm_owners",
                "madvise_collapse", "huge_zero_fault_maps_thp", "swapin_maps_large_folio",
                "swapin_read_maps_exclusive_writable")


def pages() -> list[PageInfo]:
    """Every page of the grid, the last field varying fastest."""
    return [PageInfo(**dict(zip(GRID, values))) for values in itertools.product(*GRID.values())]


def large_pages() -> list[PageInfo]:
    """Every page of the large-folio grid, the last field varying fastest."""
    return [PageInfo(**dict(zip(LARGE_GRID, values))) for values in itertools.product(*LARGE_GRID.values())]


def requests() -> list[GupRequest]:
    return [GupRequest(**dict(zip(REQUEST_GRID, values))) for values in itertools.product(*REQUEST_GRID.values())]


@cache
def cases(decision: str) -> list[tuple]:
    """The arguments each decision is asked with: the page varies fastest."""
    if decision in ("gup", "read_gup_unshares"):
        return [(request, page) for request in requests() for page in pages()]
    if decision in ("swapin_reuse", "clear_refs_skips", "mprotect_makes_writable"):
        return [(page, bit) for bit in BOTH for page in pages()]
    if decision == "gup_refuses":
        return [(GupRequest(**dict(zip(VMA_REQUEST_GRID, values))),)
                for values in itertools.product(*VMA_REQUEST_GRID.values())]
    if decision == "iouring_refuses":
        return [(file_backed,) for file_backed in BOTH]
    if decision in ("huge_write_fault", "fork_huge", "hugetlb_write_fault", "fork_hugetlb"):
        return [(page,) for page in large_pages()]
    if decision in ("large_reuse_unlocked", "large_reuse_locked", "large_reuse_frees_swap"):
        # a two-page folio, PMD-mapped or not; then as asked of an MM that owns no slot
        return [(replace(page, entire_mapcount=entire, nr_pages=2, holds_owner_slot=owner),)
                for owner in (True, False) for entire in (0, 1) for page in large_pages()]
    if decision in ("write_fault", "unshare"):  # the small pages first (as pinned before large folios came)
        return [(page,) for page in pages() + large_pages()]
    if decision == "forced_write_follows":  # (page, cowed, pte_dirty, fault_needed)
        return [(page, *bits) for bits in itertools.product(BOTH, BOTH, BOTH) for page in pages()]
    return [(page,) for page in pages()]


PINNED_DECISIONS = ("write_fault", "swapin_reuse", "reclaim_skips", "unmap_refuses", "drains_lru_before_reuse",
                    "fork_page", "huge_write_fault", "fork_huge", "hugetlb_write_fault", "fork_hugetlb", "gup",
                    "read_gup_unshares", "gup_refuses", "large_reuse_unlocked", "large_reuse_locked",
                    "large_reuse_frees_swap",
                    "iouring_refuses", "unshare",
                    "clear_refs_skips", "wrprotect_skips", "mprotect_makes_writable", "forced_write_follows",
                    "uffdio_move_refuses")


def letter(answer: object) -> str:
    """One character per answer: 0/1 for a bool, the first letter of an enum's value (each is distinct), and
    for a large folio's look (go on, warnings) a base-64 digit of the bool and the warnings' bits above it."""
    if isinstance(answer, bool):
        return "1" if answer else "0"
    if isinstance(answer, Enum):
        return str(answer.value)[0]
    if isinstance(answer, tuple) and len(answer) == 2 and isinstance(answer[0], bool):
        warned = sum(1 << list(KernelWarning).index(w) for w in answer[1])
        return "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ+/"[answer[0] + 2 * warned]
    raise TypeError(f"a decision answered {answer!r}, neither a bool nor an enum member")


def answers(policy: Policy, decision: str) -> str:
    method = getattr(policy, decision)
    return "".join(letter(method(*args)) for args in cases(decision))


def table(policy: Policy) -> dict[str, object]:
    return {"release": policy.release, "summary": policy.summary,
            "flags": {flag: getattr(policy, flag) for flag in PINNED_FLAGS},
            "decisions": {d: _pack(answers(policy, d)) for d in PINNED_DECISIONS}}


def _pack(text: str) -> str:
    return base64.b64encode(zlib.compress(text.encode(), 9)).decode()


def _unpack(packed: str) -> str:
    return zlib.decompress(base64.b64decode(packed)).decode()


def generate() -> dict[str, object]:
    return {"grid": GRID, "large_grid": LARGE_GRID, "request_grid": REQUEST_GRID, "order": policy_names(),
            "policies": {p.name: table(p) for p in all_policies()}}


def _pinned() -> dict:
    return json.loads(DATA.read_text())


def test_the_pinned_table_is_for_this_grid_and_this_order_of_policies():
    pinned = _pinned()
    assert pinned["grid"] == GRID and pinned["large_grid"] == LARGE_GRID and pinned["request_grid"] == REQUEST_GRID
    assert policy_names() == pinned["order"] == list(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_every_decision_of_the_policy_is_as_pinned(name):
    policy, pinned = get_policy(name), _pinned()["policies"][name]
    assert (policy.release, policy.summary) == (pinned["release"], pinned["summary"])
    assert {flag: getattr(policy, flag) for flag in PINNED_FLAGS} == pinned["flags"]
    for decision in PINNED_DECISIONS:
        got, want = answers(policy, decision), _unpack(pinned["decisions"][decision])
        assert len(got) == len(want)
        differing = [i for i, (g, w) in enumerate(zip(got, want)) if g != w]
        assert not differing, (f"{name}.{decision} differs on {len(differing)} of {len(want)} cases, first "
                               f"{cases(decision)[differing[0]]}: {got[differing[0]]!r}, pinned {want[differing[0]]!r}")


def test_the_pinned_table_is_big_enough_to_mean_something():
    per_policy = sum(len(cases(d)) for d in PINNED_DECISIONS) + len(PINNED_FLAGS)
    assert per_policy == 566_934 and len(_pinned()["order"]) == 22


def test_what_is_pinned_is_every_decision_and_flag_of_the_interface():
    assert {name for name in dir(Policy) if not name.startswith("_")} == set(PINNED_DECISIONS + PINNED_FLAGS)
    assert (PINNED_DECISIONS, PINNED_FLAGS) == (DECISIONS, FLAGS)


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        sys.exit("usage: python tests/test_policies.py --write   (overwrites the pinned decisions)")
    DATA.write_text(json.dumps(generate(), indent=1) + "\n")
    print(f"wrote {DATA}")


# -- a policy is its commits -----------------------------------------------------------------------------------

def test_each_policy_is_a_composition_whose_commits_come_from_its_pieces():
    for policy in all_policies():
        era = type(policy)
        assert issubclass(era, Era)
        in_effect = era.in_effect()
        assert policy.commits == tuple(c for p in in_effect for c in p.commits)
        for piece in era.pieces:
            assert (piece in in_effect) == (era.reverted_by(piece) is None)
            assert issubclass(piece.rule, era.base_rule)


def test_every_piece_is_a_commit_or_a_proposal_and_overrides_decisions_only():
    pieces = all_pieces()
    assert len({p.key for p in pieces}) == len(pieces)
    for piece in pieces:
        assert piece.subject and piece.changes and piece.rule.__doc__, piece.key
        if piece.merged:
            assert re.fullmatch(r"[0-9a-f]{12}", piece.key) and re.fullmatch(r"v\d+\.\d+(\.\d+)?", piece.release)
        else:
            assert re.fullmatch(r"S\d+ .*\d{4}", piece.key) and piece.release == "proposal"
        public = {name for name in vars(piece.rule) if not name.startswith("_")}
        assert public == set(piece.decisions) <= set(DECISIONS + FLAGS)
        if piece.reverts is not None:
            assert piece.decisions == ()


def test_a_revert_drops_the_piece_it_reverts_from_the_composition():
    page_count = type(get_policy("page_count"))
    forced, revert = (piece_of(c) for c in (ForcedCowBreakInGup, RemoveEnforcedCow))
    assert forced in page_count.pieces and forced not in page_count.in_effect()
    assert revert.reverts is forced and page_count.reverted_by(forced) is revert
    assert ForcedCowBreakInGup not in page_count.__mro__ and ForcedCowBreakInGup in type(get_policy("gup_cow_break")).__mro__
    assert "17839856fd58" not in page_count.commits and "a308c71bf1e6" in page_count.commits


def test_the_flags_are_pieces_too():
    holders = {flag: {p.key for p in all_pieces() if flag in p.decisions} for flag in FLAGS}
    assert holders == {"uses_exclusive": {"6c287605fd56"}, "flushes_pending_tlb_before_wp_fault": {"6ce64428d620"},
                       "clear_refs_flushes_tlb": {"912efa17e512"}, "odirect_pins": {"a7e689dd1c06"},
                       "uffd_wp_async": {"d61ea1cb0095"}, "forced_write_drops_foll_write": {"f33ea7f404e5"},
                       "faults_under_vma_lock": {"0bff0aaea03e"}, "fork_locks_vmas": {"fb49c455323f"},
                       "uffdio_move": {"adef440691ba"}, "breaks_ksm_by_unshare": {"6cce3314b928"},
                       "uffd_minor_shmem": {"c949b097ef2e"}, "uffd_continue_maps_dirty": {"9ae0f87d009c"},
                       "zero_page_pins_uncounted": {"c8070b787519"}, "fork_write_protect_seq": {"57efa1fe5957"},
                       "thp_split_locks_page": {"c444eb564fb1"}, "tracks_mm_owners": {"6af8cb80d3a9"},
                       "madvise_collapse": {"7d8faaf15545"}, "huge_zero_fault_maps_thp": {"1ced09e0331f"},
                           "swapin_maps_large_folio": {"508758960b8d"},
                           "swapin_read_maps_exclusive_writable": {"c18160dba5ff"}}


def test_a_new_proposal_is_a_new_composition():
    @proposal("made up for the test: fork copies every page anyone else references", "S0", "Jan 2000",
              "fork copies any page with a reference beyond its mappings")
    class CopyReferencedAtFork(Pre2020Rule):
        """A test piece."""

        def fork_page(self, page: PageInfo) -> ForkPage:
            return ForkPage.COPY if page.refcount > page.mapcount else super().fork_page(page)

    try:
        made = era("test_made_up", "proposal", type(get_policy("refcount_5_18")), [CopyReferencedAtFork],
                   summary="refcount_5_18, and fork copies referenced pages")()
        base = get_policy("refcount_5_18")
        assert made.commits == base.commits and type(made).builds_on == "refcount_5_18"
        for decision in DECISIONS:
            if decision != "fork_page":
                assert answers(made, decision) == answers(base, decision), decision
        assert made.fork_page(PageInfo(mapcount=1, refcount=2)) is ForkPage.COPY
        assert made.fork_page(PageInfo(mapcount=1, refcount=1)) is ForkPage.SHARE
    finally:
        _forget(CopyReferencedAtFork)


def test_a_composition_refuses_what_cannot_compose():
    with pytest.raises(ValueError, match="does not come before it"):
        era("test_bad", "proposal", Pre2020Rule, [RemoveEnforcedCow], summary="a revert of nothing")
    with pytest.raises(ValueError, match="comes twice"):
        era("test_bad", "proposal", type(get_policy("page_count")), [DoWpPageSimplification], summary="twice")
    with pytest.raises(KeyError, match="not a registered piece"):
        era("test_bad", "proposal", Pre2020Rule, [Pre2020Rule], summary="not a piece")
    with pytest.raises(TypeError, match="overrides decisions only"):
        @proposal("a typo", "S0", "Jan 2000", "misspells a decision")
        class Misspelt(Pre2020Rule):
            """A test piece."""

            def write_faults(self, page: PageInfo) -> WriteFault:
                return WriteFault.COPY


def _forget(rule: type) -> None:
    from modelcheck.cow.policies import pieces

    del pieces._PIECES[rule]


# -- how the pieces are shown -----------------------------------------------------------------------------------

def test_the_readme_policy_table_is_the_one_the_registry_renders(capsys):
    text = (ROOT / "README.md").read_text()
    begin = "<!-- policies: generated by python -m modelcheck policies --markdown -->\n"
    assert text.index("Each kernel era's rule is a") < text.index(begin) < text.index("$ python -m modelcheck specs/")
    table = text.split(begin, 1)[1].split("<!-- end policies -->", 1)[0]
    assert main(["policies", "--markdown"]) == 0
    assert table == capsys.readouterr().out, "paste the output of: python -m modelcheck policies --markdown"


def test_the_listing_shows_every_piece_in_effect_under_each_policy(capsys):
    assert main(["policies"]) == 0
    out = capsys.readouterr().out
    listing, machine = out.strip().rsplit("\n\n", 1)
    assert machine.startswith("this machine runs Linux ")
    blocks = {block.split("  ", 1)[0]: block for block in listing.split("\n\n")}
    assert list(blocks) == list(NAMES)
    for policy in all_policies():
        block, era_ = blocks[policy.name], type(policy)
        assert policy.release in block.splitlines()[0] and policy.summary in block
        assert block.splitlines()[2].startswith("  stands for ")
        keys = [line.split()[1] if line.startswith("  +") else line.split()[0]
                for line in block.splitlines()[3:] if not line.startswith(" " * 20)]
        assert keys == ["base"] + [p.key.split()[0] for p in era_.in_effect()]
    assert max(len(line) for line in out.splitlines()) <= 100


def test_the_catalogue_is_plain_data_with_every_piece():
    entries = policy_catalogue()
    assert json.loads(json.dumps(entries)) == entries
    anon = next(e for e in entries if e["name"] == "anon_exclusive")
    assert anon["builds_on"] == "refcount_5_18"
    assert anon["commits"].startswith("3917c80280c9, c444eb564fb1, 09854ba94c6a, a308c71bf1e6")
    assert [p["key"] for p in anon["pieces"] if p["added"]] == ["6c287605fd56", "c89357e27f20", "a7f226604170",
                                                                 "1493a1913e34"]
    assert anon["pieces"][0] == {"key": "17839856fd58", "subject": 'gup: document and work around "COW can break '
                                 'either way" issue', "release": "v5.8", "changes": piece_of(ForcedCowBreakInGup).changes,
                                 "decisions": ["gup"], "merged": True, "also": [], "reverts": None,
                                 "reverted_by": "a308c71bf1e6", "added": False}


def test_the_policies_package_type_checks():
    api = pytest.importorskip("mypy.api")
    out, err, status = api.run(["--cache-dir", os.devnull, "--config-file", str(ROOT / "pyproject.toml"),
                                str(ROOT / "modelcheck" / "cow" / "policies")])
    assert status == 0, out + err


def test_andrea_cor_unshares_on_the_mapcount_alone_and_that_is_what_leaves_c12a_open():
    """The January 2021 copy-on-read test counts mappings, not swap entries (andrea_cor's docstring has the
    sources); a test that also counted the swap count, as the series' 2022 revision appears to, closes C12a."""
    import runpy

    from modelcheck.cow.capabilities import bind
    from modelcheck.cow.policies import GupRequest, Unshare
    from modelcheck.engine import SearchOptions, Verdict, check

    cor = get_policy("andrea_cor")
    read = GupRequest(write=False, pin=False, longterm=False, pte_writable=False)
    swapped_sharer = PageInfo(mapcount=1, refcount=2, swapcount=1, in_swapcache=True)
    assert not cor.read_gup_unshares(read, swapped_sharer) and cor.unshare(swapped_sharer) is Unshare.KEEP
    assert cor.swapin_reuse(PageInfo(mapcount=0, refcount=2, swapcount=1, in_swapcache=True), False)

    class CountingSwap(type(cor)):  # type: ignore[misc,valid-type]
        name = "andrea_cor_counting_swap"

        def read_gup_unshares(self, request, page):
            return page.mapcount + page.swapcount > 1

        def unshare(self, page):
            return Unshare.COPY if page.mapcount + page.swapcount > 1 else Unshare.KEEP

    spec = runpy.run_path(str(ROOT / "specs" / "c12a_vmsplice_child_swapped.py"))["SPEC"]
    verdicts = [check(bind(spec.world(), policy, list(spec.invariants)), SearchOptions()).verdict
                for policy in (cor, CountingSwap())]
    assert verdicts == [Verdict.VIOLATED, Verdict.HOLDS]


def test_jason_2020_falls_back_to_reuse_swap_page_so_a_child_swap_entry_keeps_the_copy():
    """S35 (cow-history Alt-B): the fallback for a maybe-pinned page is reuse_swap_page(), mapcount plus swap
    count; a fallback on the mapcount alone would reuse a page whose slot a child's swap PTE still names, which
    C12-C9 tells apart (its pin stays coherent only by writing into the child's copy-to-be)."""
    import runpy

    from modelcheck.cow.capabilities import bind
    from modelcheck.engine import SearchOptions, Verdict, check

    jason = get_policy("jason_2020")
    pinned = dict(refcount=1026, in_swapcache=True)
    assert jason.write_fault(PageInfo(mapcount=1, swapcount=0, **pinned)) is WriteFault.REUSE
    assert jason.write_fault(PageInfo(mapcount=1, swapcount=1, **pinned)) is WriteFault.COPY

    class MapcountAlone(type(jason)):  # type: ignore[misc,valid-type]
        name = "jason_2020_mapcount_alone"

        def write_fault(self, page):
            if not page.locked and page.maybe_dma_pinned and page.mapcount <= 1:
                return WriteFault.REUSE
            return super().write_fault(page)

    spec = runpy.run_path(str(ROOT / "specs" / "c12_c9_ro_pin_shared_swapped.py"))["SPEC"]
    verdicts = [check(bind(spec.world(), policy, list(spec.invariants)), SearchOptions()).verdict
                for policy in (jason, MapcountAlone())]
    assert verdicts == [Verdict.VIOLATED, Verdict.HOLDS]
