"""A large folio that reclaim leaves whole in the swap cache (``pageout_thp_cached``), its writeback, and the
faults that find it there: one page at a time before 508758960b8d (v6.11), the whole folio from then on, and
6.15's reuse check, which frees the swap cache first (1da190f4d0a6) and cannot while a swap entry of the folio
is left or its writeback is under way (specs/l4_*.py to l6_*.py)."""

from __future__ import annotations

import pytest

from modelcheck.cow import CowWorld
from modelcheck.cow.layout import (PAGE_EXCLUSIVE, PAGE_SWAPCACHE, PAGE_WRITEBACK, PTE_SWAP, PTE_SWAP_EXCLUSIVE,
                                   PTE_WRITE, pte_page)
from modelcheck.cow.mechanisms import faults, swap
from modelcheck.cow.mechanisms.memory import folio_pages, info, page_live
from modelcheck.cow.policies import PageInfo, get_policy
from modelcheck.engine import check
from modelcheck.spec import bind, load_spec

from tests.test_vma_ops import labels, run

ALONE = CowWorld.scripted({"parent": ["pageout_thp_cached a0", "load a1", "store a0", "munmap a0", "munmap a1"]},
                          thp=2, thp_pte=True)


def test_the_folio_stays_whole_in_the_swap_cache_each_pte_a_swap_entry_under_writeback():
    model = ALONE.model("mm_owner_6_15", [])
    s, acts = run(model, "parent pageout_thp_cached a0")
    L, k = model.layout, model.kernel
    assert acts[-1].branch == "pageout_thp_cached"
    assert folio_pages(k, s, 0) == (0, 1)
    for a in range(2):
        pte = s[L.pte_index(0, a)]
        assert pte & PTE_SWAP and pte & PTE_SWAP_EXCLUSIVE and pte_page(pte) == a  # PG_anon_exclusive kept
        flags = s[L.flags_base + a]
        assert flags & PAGE_SWAPCACHE and flags & PAGE_WRITEBACK and not flags & PAGE_EXCLUSIVE
    page = info(k, s, 0)
    assert page.large and page.in_swapcache and page.refcount == 2 and page.large_mapcount == 0
    assert "kernel writeback_end(page 0)" in labels(model, s) and "kernel writeback_end(page 1)" not in labels(model, s)


@pytest.mark.parametrize("policy, mapped", [("large_folio_6_9", (1,)), ("large_swapin_6_11", (0, 1)),
                                            ("mm_owner_6_15", (0, 1))])
def test_a_fault_maps_the_whole_folio_from_6_11_and_one_page_before(policy, mapped):
    model = ALONE.model(policy, [])
    s, acts = run(model, "parent pageout_thp_cached a0", "parent load a1")
    L = model.layout
    assert tuple(a for a in range(2) if not s[L.pte_index(0, a)] & PTE_SWAP) == mapped
    assert acts[-1].branch == ("swapin_folio+read" if len(mapped) == 2 else "swapin+read")
    # the swap entries were exclusive: the pages mapped are PG_anon_exclusive again, and a write reuses them
    assert all(s[L.flags_base + g] & PAGE_EXCLUSIVE for g in mapped)
    s, acts = run(model, "parent pageout_thp_cached a0", "parent load a1", "parent store a0")
    assert s[L.pte_index(0, 0)] & PTE_WRITE and pte_page(s[L.pte_index(0, 0)]) == 0


def test_the_swap_pte_batch_wants_the_same_bits_on_every_entry():
    path = "specs/l6_swapcache_case_partly_mapped.py"
    loaded = bind(path, load_spec(path))
    model = loaded.world.model("mm_owner_6_15", [])
    s, acts = run(model, "parent fork", "child1 exit", "parent wait child1", "parent store a0", "parent store a0",
                  "parent pageout_thp_cached a0", "parent load a1")
    L = model.layout
    assert acts[-1].branch == "swapin+read"  # a0's entry is exclusive, a1's and a2's are not: one page
    assert [bool(s[L.pte_index(0, a)] & PTE_SWAP) for a in range(3)] == [True, False, True]


def test_the_last_swap_entry_gone_frees_the_folio_once_written_out():
    model = ALONE.model("mm_owner_6_15", [])
    L, k = model.layout, model.kernel
    s, _ = run(model, "parent pageout_thp_cached a0", "parent load a1", "parent store a0", "parent munmap a0",
               "parent munmap a1")
    assert all(page_live(k, s, g) for g in (0, 1)) and s[L.flags_base] & PAGE_WRITEBACK  # still being written
    s, acts = run(model, "parent pageout_thp_cached a0", "parent load a1", "parent store a0", "parent munmap a0",
                  "parent munmap a1", "kernel writeback_end(page 0)")
    assert acts[-1].branch == "writeback_end" and not any(page_live(k, s, g) for g in (0, 1))


def test_the_reuse_check_frees_the_swap_cache_only_when_no_swap_entry_is_left():
    for name in ("mm_owner_6_15_rc1", "mm_owner_6_15", "mainline_7_3"):
        policy = get_policy(name)
        page = PageInfo(mapcount=1, refcount=4, large=True, large_mapcount=2, nr_pages=2, in_swapcache=True)
        assert policy.large_reuse_frees_swap(page)
        assert not policy.large_reuse_frees_swap(PageInfo(mapcount=1, refcount=4, large=True, large_mapcount=1,
                                                          nr_pages=2, in_swapcache=True))
    assert not get_policy("large_swapin_6_11").large_reuse_frees_swap(page)


@pytest.mark.parametrize("path, policy, verdict", [
    ("specs/l4_swapcache_child_swap_entries.py", "mm_owner_6_15", "holds"),
    ("specs/l5_swapcache_folio_mapped_whole.py", "mm_owner_6_15", "holds"),
    ("specs/l5_swapcache_folio_mapped_whole.py", "large_swapin_6_11", "violated"),
    ("specs/l5w_swapcache_folio_under_writeback.py", "mm_owner_6_15", "violated"),
    ("specs/l6_swapcache_case_partly_mapped.py", "mm_owner_6_15", "violated"),
])
def test_the_swap_cache_specs(path, policy, verdict):
    loaded = bind(path, load_spec(path))
    assert check(loaded.world.model(policy, loaded.spec.invariants)).verdict == verdict


def test_without_mapping_the_whole_folio_6_15_would_copy_in_l5(monkeypatch):
    path = "specs/l5_swapcache_folio_mapped_whole.py"
    loaded = bind(path, load_spec(path))
    policy = type(get_policy("mm_owner_6_15"))
    monkeypatch.setattr(policy, "swapin_maps_large_folio", False)
    result = check(loaded.world.model("mm_owner_6_15", ["no_spurious_copy"]))
    assert result.verdict == "violated"


def test_a_reuse_check_that_freed_the_swap_cache_regardless_would_leak_to_the_child(monkeypatch):
    path = "specs/l4_swapcache_child_swap_entries.py"
    loaded = bind(path, load_spec(path))

    def frees_regardless(m, t, page):
        """A broken folio_free_swap: out of the swap cache whatever swap entries still name the folio."""
        for g in folio_pages(m, t, page):
            t[m.layout.flags_base + g] &= ~(PAGE_SWAPCACHE | PAGE_WRITEBACK)
        return True

    monkeypatch.setattr(faults, "free_folio_swap", frees_regardless)
    result = check(loaded.world.model("mm_owner_6_15", ["no_leak_across_fork"]))
    assert result.verdict == "violated" and result.violations[0].property == "no_leak_across_fork"


def test_a_swap_in_updates_the_owner_slots_before_its_write_fault_looks(monkeypatch):
    """The kernel's rmap functions update a folio's MM-owner slots as they map it; a swap-in that maps the folio
    and then faults for the write in one step must too, or the look reads stale slots."""
    path = "specs/l4_swapcache_child_swap_entries.py"
    loaded = bind(path, load_spec(path))
    assert check(loaded.world.model("mm_owner_6_15_rc1", ["no_kernel_warning"])).verdict == "holds"
    monkeypatch.setattr(swap, "sync_mm_owners", lambda k, t: None)
    # left for the end of the step, the slots do not know the parent maps the folio again when its fault
    # looks: the maybe-shared bit is still clear, and 6.15-rc1's early check sees it mapped four times
    result = check(loaded.world.model("mm_owner_6_15_rc1", ["no_kernel_warning"]))
    assert result.verdict == "violated" and "exceeds its pages" in result.violations[0].trace.explanation


@pytest.mark.parametrize("policy, writable", [("large_folio_6_9", False), ("large_swapin_6_11", True),
                                              ("mainline_7_3", True)])
def test_from_6_11_a_read_swap_in_maps_an_exclusive_page_writable(policy, writable):
    """c18160dba5ff: the write after the read needs no fault to reuse the page."""
    model = CowWorld.scripted({"parent": ["pageout a0", "load a0", "store a0"]}).model(policy, [])
    s, acts = run(model, "parent pageout a0", "parent load a0")
    assert bool(s[model.layout.pte_index(0, 0)] & PTE_WRITE) is writable
    _, acts = run(model, "parent pageout a0", "parent load a0", "parent store a0")
    assert acts[-1].branch == ("write" if writable else "reuse")


def test_but_not_where_soft_dirty_tracking_wants_a_fault_first():
    model = CowWorld.scripted({"parent": ["clear_refs", "pageout a0", "load a0"]}).model("mainline_7_3", [])
    s, _ = run(model, "parent clear_refs", "parent pageout a0", "parent load a0")
    assert not s[model.layout.pte_index(0, 0)] & PTE_WRITE
