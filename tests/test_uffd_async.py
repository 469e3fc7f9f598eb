"""Asynchronous uffd-wp (UFFD_FEATURE_WP_ASYNC, d61ea1cb0095, v6.7): the write fault drops the bit itself.

Under a policy with the feature, a store to an async uffd-wp PTE write-faults, the fault clears the bit (no
userfault) and reuses or copies as on any write-protected PTE; under one without it, UFFDIO_API refuses the
feature, nothing is registered and the write-protect changes nothing. A synchronous uffd-wp PTE still makes
the store wait for the monitor.
"""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest

from modelcheck.cow import CowWorld, WorldError
from modelcheck.cow.layout import PAGE_EXCLUSIVE, PTE_UFFD_WP, PTE_WRITE, pte_page
from modelcheck.cow.policies import get_policy
from modelcheck.engine import SearchOptions, Verdict, check
from walk import follow, labels_enabled

ROOT = Path(__file__).resolve().parents[1]
PINNED = {"parent": ["pin_rw a0 -> dev", "uffd_wp_async a0", "store a0", "dma_write dev", "put dev", "load a0"]}


def model(programs, policy, invariants=(), **world):
    return CowWorld.scripted(programs, **world).model(policy, list(invariants))


def test_only_the_6_7_policies_accept_the_feature():
    assert get_policy("uffd_wp_async_6_7").uffd_wp_async and get_policy("mainline_7_3").uffd_wp_async
    assert not get_policy("odirect_pins_6_5").uffd_wp_async and not get_policy("anon_exclusive").uffd_wp_async


def test_the_async_fault_clears_the_bit_and_reuses_the_pinned_exclusive_page():
    m = model(PINNED, "uffd_wp_async_6_7")
    acts, state = follow(m, "parent pin_rw a0 -> dev", "parent uffd_wp_async a0", "parent store a0")
    assert [a.branch for a in acts] == ["gup", "wrprotect", "uffd_async_clear+reuse"]
    L = m.layout
    pte = state[L.pte_index(0, 0)]
    assert pte & PTE_WRITE and not pte & PTE_UFFD_WP
    assert pte_page(pte) == 0 and state[L.flags_base + 0] & PAGE_EXCLUSIVE  # the pinned page, still PAE


def test_before_6_7_the_registration_is_refused_and_the_store_writes_through():
    acts, state = follow(model(PINNED, "odirect_pins_6_5"), "parent pin_rw a0 -> dev", "parent uffd_wp_async a0",
                         "parent store a0")
    assert [a.branch for a in acts] == ["gup", "uffd_refused", "write"]


def test_a_synchronous_uffd_wp_pte_still_waits_for_the_monitor():
    m = model({"parent": ["uffd_wp a0", "store a0"]}, "uffd_wp_async_6_7")
    _, state = follow(m, "parent uffd_wp a0")
    assert labels_enabled(m, state) == set()


def test_a_shared_page_is_copied_and_the_copy_has_no_uffd_wp_bit():
    m = model({"parent": ["uffd_wp_async a0", "fork", "store a0"]}, "uffd_wp_async_6_7")
    acts, state = follow(m, "parent uffd_wp_async a0", "parent fork", "parent store a0")
    assert acts[-1].branch == "uffd_async_clear+copy"
    pte = state[m.layout.pte_index(0, 0)]
    assert pte & PTE_WRITE and not pte & PTE_UFFD_WP and pte_page(pte) != 0


def test_a_write_gup_on_an_async_pte_raises_no_userfault():
    m = model({"parent": ["uffd_wp_async a0", "get_rw a0 -> drv"]}, "uffd_wp_async_6_7")
    acts, _ = follow(m, "parent uffd_wp_async a0", "parent get_rw a0 -> drv")
    assert acts[-1].branch == "gup_write_fault+uffd_async_clear+reuse"  # GUP faults; do_wp_page clears
    sync = model({"parent": ["uffd_wp a0", "get_rw a0 -> drv"]}, "uffd_wp_async_6_7")
    acts, _ = follow(sync, "parent uffd_wp a0", "parent get_rw a0 -> drv")
    assert acts[-1].branch.startswith("uffd_fault+")


def test_through_a_tlb_the_first_step_of_the_fault_clears_the_bit():
    m = model({"parent": ["uffd_wp_async a0", "store a0"]}, "uffd_wp_async_6_7", tlb=True)
    state = m.initial_states()[0]
    branches = []
    while True:
        succ = list(m.successors(state))
        if not succ:
            break
        act, state = succ[0]
        branches.append(act.branch)
    assert "uffd_async_clear+reuse" in branches


def test_one_address_cannot_be_both_synchronous_and_async():
    with pytest.raises(WorldError, match="a0 is write-protected through both a synchronous and an async"):
        model({"parent": ["uffd_wp a0", "uffd_wp_async a0"]}, "uffd_wp_async_6_7")


def test_unprotecting_an_address_whose_registration_was_refused_changes_nothing():
    acts, _ = follow(model({"parent": ["uffd_wp_async a0", "uffd_unwp a0", "store a0"]}, "anon_exclusive"),
                     "parent uffd_wp_async a0", "parent uffd_unwp a0", "parent store a0")
    assert [a.branch for a in acts] == ["uffd_refused", "uffd_refused", "write"]


@pytest.mark.parametrize("path, policy, expected", [
    ("specs/s7_uffd_wp_async_pinned.py", "uffd_wp_async_6_7", Verdict.HOLDS),
    ("specs/s7_uffd_wp_async_pinned.py", "mainline_7_3", Verdict.HOLDS),
    ("specs/s7s_uffd_wp_sync_pinned.py", "page_count", Verdict.VIOLATED),
    ("specs/s7s_uffd_wp_sync_pinned.py", "anon_exclusive", Verdict.HOLDS),
    ("specs/s7s_uffd_wp_sync_pinned.py", "uffd_wp_async_6_7", Verdict.HOLDS)])
def test_the_s7_specs(path, policy, expected):
    spec = runpy.run_path(str(ROOT / path))["SPEC"]
    result = check(spec.world().model(policy, list(spec.invariants)), SearchOptions())
    assert result.verdict is expected
    if policy in spec.expect:
        assert spec.expect[policy] == expected.value
