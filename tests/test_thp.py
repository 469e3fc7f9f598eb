"""A PMD-mapped THP (``thp=N``): its counters, fork, the write fault per era, splitting and unmapping; and
hugetlb memory (``hugetlb=True``), whose own COW rule never looks at the refcount."""

from __future__ import annotations

import pytest

from modelcheck.cow import CowWorld
from modelcheck.cow.layout import PAGE_EXCLUSIVE, PAGE_HUGETLB, PTE_SWAP, PTE_WRITE, pte_page
from modelcheck.cow.mechanisms.memory import folio_pages, info, mapcount, refcount
from modelcheck.cow.world import WorldError
from modelcheck.engine.model import Symmetric

from tests.test_vma_ops import run


def test_the_thp_starts_as_one_folio_mapped_by_one_pmd_which_counts_one_reference():
    model = CowWorld.scripted({"parent": ["store a0"]}, thp=4).model("page_count", [])
    s = model.initial_states()[0]
    L = model.layout
    assert s[L.pmd_base] == 1 and folio_pages(model.kernel, s, 2) == (0, 1, 2, 3)
    assert [pte_page(s[L.pte_index(0, a)]) for a in range(4)] == [0, 1, 2, 3]
    assert refcount(model.kernel, s, 3) == 1 and mapcount(model.kernel, s, 3) == 1
    page = info(model.kernel, s, 1)
    assert page.large and page.refcount == 1 and page.pincount == 0 and not page.maybe_dma_pinned


def test_a_pin_of_a_thp_adds_one_reference_and_one_to_its_pincount():
    model = CowWorld.scripted({"parent": ["pin_rw a1 -> p"]}, thp=2).model("page_count", [])
    after, acts = run(model, "parent pin_rw a1 -> p")
    assert acts[-1].branch == "gup"
    page = info(model.kernel, after, 0)
    assert page.refcount == 2 and page.pincount == 1 and page.maybe_dma_pinned


def test_splitting_the_pmd_makes_every_page_hold_a_reference_and_unmapping_the_range_frees_the_folio():
    model = CowWorld.scripted({"parent": ["munmap a1", "munmap_thp a0"]}, thp=2).model("anon_exclusive", [])
    L = model.layout
    after, acts = run(model, "parent munmap a1")
    assert acts[-1].branch == "pmd_split+munmap" and not after[L.pmd_base]
    assert refcount(model.kernel, after, 0) == 1 and after[L.flags_base + 0] & PAGE_EXCLUSIVE
    assert after[L.value_index(1)]  # page 1 is unmapped, but its folio lives on (no deferred split here)
    after, acts = run(model, "parent munmap a1", "parent munmap_thp a0")
    assert acts[-1].branch == "munmap_thp" and not any(after[L.value_index(g)] for g in range(2))


def test_fork_shares_the_pmd_and_splits_a_pinned_thp_to_copy_its_pages_from_5_9():
    world = CowWorld.scripted({"parent": ["pin_rw a0 -> p", "fork"]}, thp=2)
    labels = ("parent pin_rw a0 -> p", "parent fork")
    model = world.model("page_count", [])
    after, acts = run(model, *labels)
    assert acts[-1].branch == "fork_thp_share+fork_share" and after[model.layout.pmd_base + 1]
    model = world.model("page_count_early_cow", [])
    after, acts = run(model, *labels)
    L = model.layout
    assert acts[-1].branch == "fork_thp_split+fork_copy" and not after[L.pmd_base] and not after[L.pmd_base + 1]
    assert {pte_page(after[L.pte_index(1, a)]) for a in range(2)}.isdisjoint({0, 1})  # the child has copies
    assert all(after[L.pte_index(0, a)] & PTE_WRITE for a in range(2))  # the parent keeps its pages writable


@pytest.mark.parametrize("policy, branch", [
    ("mapcount", "thp_copy"),                    # the whole THP is copied before v5.8
    ("gup_cow_break", "thp_split+copy"),         # 3917c80280c9: split, then one page is COWed
    ("page_count_fork_copy", "thp_split+copy"),  # shared: mapcount 2
    ("anon_exclusive", "thp_split+copy"),
])
def test_a_write_fault_on_a_shared_thp_copies_it_whole_or_splits_it_as_the_era_says(policy, branch):
    model = CowWorld.scripted({"parent": ["fork", "store a0"], "child1": ["load a0"]}, thp=2).model(policy, [])
    _, acts = run(model, "parent fork", "parent store a0")
    if acts[-1].branch == "thp_mapcount_read":  # (before c444eb564fb1 the fault reads in two steps)
        _, acts = run(model, "parent fork", "parent store a0", "parent store a0")
    assert acts[-1].branch == branch


def test_a_pipe_reference_keeps_the_thp_from_reuse_only_from_5_18():
    world = CowWorld.scripted({"parent": ["fork", "store a0"], "child1": ["vmsplice a0", "munmap_thp a0"]}, thp=2)
    labels = ("parent fork", "child1 vmsplice a0", "child1 munmap_thp a0", "parent store a0")
    assert run(world.model("page_count_fork_copy", []), *labels)[1][-1].branch == "thp_reuse"  # mapcount 1
    assert run(world.model("refcount_5_18", []), *labels)[1][-1].branch == "thp_split+copy"   # 3bff7e3f1f16


def test_the_fault_reads_the_mapcounts_in_two_steps_only_where_the_split_takes_no_page_lock():
    world = CowWorld.scripted({"parent": ["fork", "store a0"], "child1": ["munmap a1"]}, thp=2)
    assert "store" in world.model("mapcount", []).kernel.stepped
    assert "store" not in world.model("gup_cow_break", []).kernel.stepped  # c444eb564fb1
    model = world.model("mapcount", [])
    _, acts = run(model, "parent fork", "parent store a0", "child1 munmap a1", "parent store a0")
    assert [a.branch for a in acts[1:]] == ["thp_mapcount_read", "pmd_split+munmap", "thp_reuse"]  # 0 - 1 + 1
    _, acts = run(model, "parent fork", "child1 munmap a1", "parent store a0", "parent store a0")
    assert acts[-1].branch == "thp_copy"  # read whole after the split: 2 - 1 + 1


def test_a_thp_world_offers_no_page_symmetry():
    model = CowWorld.scripted({"parent": ["store a0"]}, thp=2).model("page_count", [])
    assert not isinstance(model, Symmetric)


@pytest.mark.parametrize("programs, thp, words", [
    ({"parent": ["uffd_wp a0"]}, 2, "a world with a THP models only"),
    ({"parent": ["mprotect_thp_ro a0"]}, 0, "mprotect_thp_ro needs a THP"),
    ({"parent": ["store a0"]}, 1, "a THP of 2 to 8 pages"),
    ({"parent": ["store a0"]}, 9, "a THP of 2 to 8 pages"),
    ({"parent": ["munmap_thp a0"]}, 0, "munmap_thp needs a THP"),
    ({"parent": ["munmap_thp a2"]}, 2, "a2 is not in the THP"),
])
def test_what_a_thp_world_does_not_model_is_refused_in_one_line(programs, thp, words):
    with pytest.raises(WorldError, match=words):
        CowWorld.scripted(programs, thp=thp)


# -- hugetlb memory ------------------------------------------------------------------------------------------------

def test_a_hugetlb_page_is_reused_when_mapped_once_whatever_its_refcount_in_every_era():
    world = CowWorld.scripted({"parent": ["fork", "store a0"], "child1": ["vmsplice a0", "munmap a0"]},
                              hugetlb=True)
    labels = ("parent fork", "child1 vmsplice a0", "child1 munmap a0", "parent store a0")
    for policy in ("page_count", "refcount_5_18", "anon_exclusive", "mainline_7_3"):
        model = world.model(policy, [])
        after, acts = run(model, *labels)
        assert acts[-1].branch == "hugetlb_reuse", policy  # the pipe's reference is not looked at
        page = info(model.kernel, after, 0)
        assert page.large and page.refcount == 2 and page.mapcount == 1


def test_fork_copies_a_pinned_hugetlb_page_only_from_5_12():
    world = CowWorld.scripted({"parent": ["pin_rw a0 -> p", "fork"]}, hugetlb=True)
    labels = ("parent pin_rw a0 -> p", "parent fork")
    assert run(world.model("page_count_early_cow", []), *labels)[1][-1].branch == "fork_share"
    model = world.model("page_count_fork_copy", [])
    after, acts = run(model, *labels)
    assert acts[-1].branch == "fork_copy"  # 4eae4efa2c29
    assert after[model.layout.flags_base + pte_page(after[model.layout.pte_index(1, 0)])] & PAGE_HUGETLB


def test_a_read_only_pin_unshares_a_shared_hugetlb_page_from_5_19():
    world = CowWorld.scripted({"parent": ["fork", "pin_ro a0 -> p"]}, hugetlb=True)
    assert run(world.model("anon_exclusive", []), "parent fork", "parent pin_ro a0 -> p")[1][-1].branch == \
        "hugetlb_unshare_copy"
    assert run(world.model("refcount_5_18", []), "parent fork", "parent pin_ro a0 -> p")[1][-1].branch == "gup"


def test_hugetlb_memory_refuses_what_it_does_not_model():
    with pytest.raises(WorldError, match="hugetlb pages or a THP, not both"):
        CowWorld.scripted({"parent": ["store a0"]}, thp=2, hugetlb=True)
    with pytest.raises(WorldError, match="a world with hugetlb memory models only"):
        CowWorld.scripted({"parent": ["uffd_wp a0"]}, hugetlb=True)


# -- MM-owner tracking (6.15) --------------------------------------------------------------------------------------

def test_the_owner_slots_follow_fork_exit_and_unmap_and_the_bit_outlives_two_of_three_mappers():
    from modelcheck.cow.mechanisms.thp import OwnerSlots

    world = CowWorld.scripted({"parent": ["fork", "fork", "wait child1", "munmap_thp a0"], "child1": ["exit"],
                               "child2": ["store a0"]}, thp=2, thp_pte=True)
    model = world.model("mm_owner_6_15", [])
    L = model.layout

    def slots(*labels):
        return OwnerSlots.unpack(run(model, *labels)[0][L.owners_base])

    assert slots() == OwnerSlots([1, 0], [2, 0], False)
    assert slots("parent fork") == OwnerSlots([1, 2], [2, 2], True)      # child1 takes slot 1: maybe shared
    assert slots("parent fork", "parent fork") == OwnerSlots([1, 2], [2, 2], True)  # child2: no slot left
    after_exit = ("parent fork", "parent fork", "child1 exit", "parent wait child1")
    assert slots(*after_exit) == OwnerSlots([1, 0], [2, 0], True)        # 2 of 4 in slot 0: still set
    assert slots(*after_exit, "parent munmap_thp a0") == OwnerSlots([0, 0], [0, 0], True)
    _, acts = run(model, *after_exit, "parent munmap_thp a0", "child2 store a0")
    assert acts[-1].branch == "copy"  # the false positive: child2 maps the folio alone
    one_child = CowWorld.scripted({"parent": ["fork", "wait child1", "store a0"], "child1": ["exit"]},
                                  thp=2, thp_pte=True).model("mm_owner_6_15", [])
    _, acts = run(one_child, "parent fork", "child1 exit", "parent wait child1", "parent store a0",
                  "parent store a0")  # (a look without the large mapcount's lock, then one under it)
    assert [a.branch for a in acts[-2:]] == ["large_reuse_unlocked", "reuse"]  # two MMs: the bit cleared at exit


def test_before_6_15_the_large_folio_is_copied_and_before_5_9_reused_page_by_page():
    world = CowWorld.scripted({"parent": ["fork", "wait child1", "store a0"], "child1": ["exit"]},
                              thp=2, thp_pte=True)
    labels = ("parent fork", "child1 exit", "parent wait child1", "parent store a0")
    assert run(world.model("large_folio_6_9", []), *labels)[1][-1].branch == "copy"  # 781a3ca5c345
    assert run(world.model("page_count", []), *labels)[1][-1].branch == "copy"       # the folio's refcount 2
    assert run(world.model("mapcount", []), *labels)[1][-1].branch == "reuse"        # page_trans_huge_mapcount 1


def test_the_folio_level_check_fails_before_5_9_by_design_and_no_write_leaks_there():
    from pathlib import Path

    from modelcheck.engine import SearchOptions, check
    from modelcheck.spec import bind, load_spec

    path = Path(__file__).resolve().parents[1] / "specs" / "l3_mm_owner_never_reuses_shared.py"
    world = bind(path, load_spec(path)).world
    for policy in ("mapcount", "gup_cow_break", "andrea_cor"):
        assert check(world.model(policy, ["no_leak_across_fork", "refcount_sane"]), SearchOptions()).verdict.value \
            == "holds", policy


def test_reduce_on_a_thp_world_says_that_no_symmetry_applies():
    from modelcheck.engine import SearchOptions, check
    from modelcheck.engine.run import NO_SYMMETRY

    model = CowWorld.scripted({"parent": ["fork", "store a0"]}, thp=2).model("page_count", [])
    assert NO_SYMMETRY in check(model, SearchOptions(reduce=True)).notes
    plain = CowWorld.scripted({"parent": ["fork", "store a0"]}).model("page_count", [])
    assert NO_SYMMETRY not in check(plain, SearchOptions(reduce=True)).notes


# -- mprotect, madvise and clear_refs on the THP's range and on hugetlb memory -----------------------------------

def test_mprotect_of_one_page_splits_the_pmd_and_of_the_whole_range_keeps_it():
    world = CowWorld.scripted({"parent": ["mprotect_ro a0", "mprotect_thp_ro a1"]}, thp=2)
    model = world.model("anon_exclusive", [])
    L = model.layout
    after, acts = run(model, "parent mprotect_ro a0")
    assert acts[-1].branch == "vma_pmd_split+wrprotect" and not after[L.pmd_base]
    assert not after[L.pte_index(0, 0)] & PTE_WRITE and after[L.pte_index(0, 1)] & PTE_WRITE
    world = CowWorld.scripted({"parent": ["mprotect_thp_ro a1"]}, thp=2)
    model = world.model("anon_exclusive", [])
    after, acts = run(model, "parent mprotect_thp_ro a1")
    assert acts[-1].branch == "wrprotect" and after[L.pmd_base]
    assert not any(after[L.pte_index(0, a)] & PTE_WRITE for a in range(2))


def test_mprotect_maps_an_exclusive_pmd_writable_again_from_6_2_and_never_a_shared_one():
    world = CowWorld.scripted({"parent": ["mprotect_thp_ro a0", "mprotect_thp_rw a0", "fork", "mprotect_thp_ro a0",
                                          "mprotect_thp_rw a0"]}, thp=2)
    first = ("parent mprotect_thp_ro a0", "parent mprotect_thp_rw a0")
    for policy, branch in (("anon_exclusive", "mprotect_rw"), ("anon_exclusive_6_2", "pmd_upgrade")):
        model = world.model(policy, [])
        after, acts = run(model, *first)
        assert acts[-1].branch == branch and after[model.layout.pmd_base]
        assert bool(after[model.layout.pte_index(0, 1)] & PTE_WRITE) == (branch == "pmd_upgrade")
    model = world.model("anon_exclusive_6_2", [])
    after, acts = run(model, *first, "parent fork", *first)
    L = model.layout
    assert acts[-1].branch == "mprotect_rw" and not after[L.pte_index(0, 0)] & PTE_WRITE
    assert after[L.vma_base + L.addresses] == after[L.vma_base]  # the child's VMA is the parent's


def test_clear_refs_write_protects_a_pinned_pmd_but_leaves_a_pinned_pte_where_the_policy_skips_it():
    labels = ("parent pin_rw a0 -> p", "parent clear_refs")
    for pte_mapped, writable in ((False, False), (True, True)):
        world = CowWorld.scripted({"parent": ["pin_rw a0 -> p", "clear_refs"]}, thp=2, thp_pte=pte_mapped)
        model = world.model("page_count_fork_copy", [])
        after, _ = run(model, *labels)
        assert bool(after[model.layout.pte_index(0, 0)] & PTE_WRITE) == writable


def test_hugetlb_mprotect_never_maps_a_page_writable_and_clear_refs_leaves_it_alone():
    world = CowWorld.scripted({"parent": ["clear_refs", "mprotect_ro a0", "mprotect_rw a0"]}, hugetlb=True)
    model = world.model("mainline_7_3", [])
    L = model.layout
    after, acts = run(model, "parent clear_refs")
    assert acts[-1].branch == "clear_refs_untracked" and after[L.pte_index(0, 0)] & PTE_WRITE
    after, acts = run(model, "parent clear_refs", "parent mprotect_ro a0", "parent mprotect_rw a0")
    assert acts[-1].branch == "mprotect_rw" and not after[L.pte_index(0, 0)] & PTE_WRITE


# -- the memory cow.c prepares before a test: prologues ---------------------------------------------------------

def test_a_prologue_goes_first_and_renumbers_the_scenarios_children():
    base = CowWorld.scripted({"parent": ["fork", "wait child1"], "child1": ["exit"]}, thp=2)
    world = base.thp_partly_shared()
    programs = {t.name: [op.text for op in t.program] for t in world.scenario.threads}
    assert programs == {"parent": ["dontfork a1", "fork", "wait child1", "dofork a1", "fork", "wait child2"],
                        "child1": ["exit"], "child2": ["exit"]}
    assert [key[1] for key in world.scenario.schedule] == ["parent", "parent", "child1", "parent", "parent"]
    with pytest.raises(WorldError, match="without a schedule"):
        world.over_the_whole_thp()
    with pytest.raises(WorldError, match="needs a world with a THP"):
        CowWorld.scripted({"parent": ["store a0"]}).single_pte_of_thp()


def test_a_single_pte_of_a_thp_is_one_pte_of_the_folio_and_a_remapped_half_is_still_the_folios():
    world = CowWorld.scripted({"parent": ["store a0"]}, thp=2).single_pte_of_thp()
    model = world.model("mm_owner_6_15", [])
    L = model.layout
    after, acts = run(model, "parent munmap a1")
    assert acts[-1].branch == "pmd_split+munmap" and not after[L.pte_index(0, 1)]
    page = info(model.kernel, after, 0)
    assert page.large and page.refcount == 1 and page.large_mapcount == 1
    world = CowWorld.scripted({"parent": ["store a0"]}, thp=2).thp_partly_remapped()
    model = world.model("mm_owner_6_15", [])
    after, acts = run(model, "parent mremap a1 a2")
    assert acts[-1].branch == "vma_pmd_split+mremap" and world.scenario.addresses == 3
    assert pte_page(after[model.layout.pte_index(0, 2)]) == 1 and info(model.kernel, after, 0).refcount == 2


# -- a hugetlbfs file (cow.c's and gup_longterm.c's "memfd hugetlb") -------------------------------------------

def test_a_hugetlbfs_file_is_a_huge_page_cache_page_that_io_uring_registers_in_every_era():
    programs = {"parent": ["store a0", "iouring_register a0 -> buf"]}
    world = CowWorld.scripted(programs, file="hugetlbfs", maps={"a0": "shared"})
    assert world.scenario.hugetlb
    model = world.model("page_count", [])
    k = model.kernel
    s = model.initial_states()[0]
    assert s[model.layout.flags_base + k.file_page] & PAGE_HUGETLB
    page = info(k, s, k.file_page)
    assert page.large and not page.anon
    _, acts = run(model, "parent store a0", "parent iouring_register a0 -> buf")
    assert acts[-1].branch == "gup"
    shmem = CowWorld.scripted(programs, file="shmem", maps={"a0": "shared"}).model("page_count", [])
    _, acts = run(shmem, "parent store a0", "parent iouring_register a0 -> buf")
    assert acts[-1].branch == "gup+iouring_refused"
    with pytest.raises(WorldError, match="maps a hugetlbfs file"):
        CowWorld.scripted(programs, file="shmem", maps={"a0": "shared"}, hugetlb=True)


def test_a_private_write_to_a_hugetlbfs_file_copies_it_into_an_anonymous_huge_page():
    world = CowWorld.scripted({"parent": ["load a0", "store a0"]}, file="hugetlbfs", maps={"a0": "private"})
    model = world.model("mainline_7_3", [])
    after, acts = run(model, "parent load a0", "parent store a0")
    k, L = model.kernel, model.layout
    copy = pte_page(after[L.pte_index(0, 0)])
    assert acts[-1].branch == "file_copy" and copy != k.file_page
    assert after[L.flags_base + copy] & PAGE_HUGETLB and info(k, after, copy).anon


def test_madvise_collapse_copies_the_range_into_an_exclusive_pmd_from_6_1_and_not_past_a_pin():
    world = CowWorld.scripted({"parent": ["fork", "collapse_thp a0"], "child1": ["load a0"]}, thp=2, thp_pte=True)
    pinned = CowWorld.scripted({"parent": ["fork", "pin_ro a1 -> p", "collapse_thp a0"], "child1": ["load a0"]},
                               thp=2, thp_pte=True)
    model = world.model("anon_exclusive_6_2", [])
    L = model.layout
    after, acts = run(model, "parent fork", "parent collapse_thp a0")
    assert acts[-1].branch == "collapse" and after[L.pmd_base] and not after[L.pmd_base + 1]
    new = pte_page(after[L.pte_index(0, 0)])
    assert new not in (0, 1) and after[L.flags_base + new] & PAGE_EXCLUSIVE and after[L.pte_index(0, 1)] & PTE_WRITE
    assert {pte_page(after[L.pte_index(1, a)]) for a in range(2)} == {0, 1}  # the child keeps the old pages
    _, acts = run(pinned.model("anon_exclusive_6_2", []), "parent fork", "parent pin_ro a1 -> p",
                  "parent collapse_thp a0")
    assert acts[-1].branch == "collapse_failed"  # the pin is a reference that is no mapping
    _, acts = run(world.model("anon_exclusive", []), "parent fork", "parent collapse_thp a0")
    assert acts[-1].branch == "collapse_einval"


def test_an_untouched_thp_range_maps_the_huge_zero_page_on_a_read_and_a_thp_on_a_write():
    world = CowWorld.scripted({"parent": ["load a0", "store a1"], "parent.2": ["store a0"]}, thp=2,
                              fresh=["a0", "a1"])
    model = world.model("mainline_7_3", [])
    k, L = model.kernel, model.layout
    s = model.initial_states()[0]
    assert not s[L.pmd_base] and not any(s[L.folio_base + g] for g in range(2))
    after, acts = run(model, "parent load a0")
    assert acts[-1].branch == "huge_zero_map+read" and after[L.pmd_base]
    assert {pte_page(after[L.pte_index(0, a)]) for a in range(2)} == {k.zero_page}
    after, acts = run(model, "parent load a0", "parent store a1")  # 1ced09e0331f (v6.13): a fresh THP
    assert acts[-1].branch == "huge_zero_thp" and after[L.pmd_base] and after[L.pte_index(0, 1)] & PTE_WRITE
    assert k.zero_page not in {pte_page(after[L.pte_index(0, a)]) for a in range(2)}
    assert info(k, after, pte_page(after[L.pte_index(0, 0)])).large
    before = world.model("large_folio_6_9", [])  # before: the PMD is split, the one page copied
    after, acts = run(before, "parent load a0", "parent store a1")
    assert acts[-1].branch.startswith("huge_zero_split+") and not after[L.pmd_base]
    assert pte_page(after[L.pte_index(0, 0)]) == k.zero_page != pte_page(after[L.pte_index(0, 1)])
    after, acts = run(model, "parent.2 store a0")
    assert acts[-1].branch.startswith("thp_anon_fault") and after[L.pmd_base]
    assert info(k, after, pte_page(after[L.pte_index(0, 1)])).large
    with pytest.raises(WorldError, match="starts untouched whole"):
        CowWorld.scripted({"parent": ["load a0"]}, thp=2, fresh=["a0"])


def test_paging_out_a_thp_leaves_swap_entries_of_base_pages_and_a_shared_one_alone():
    world = CowWorld.scripted({"parent": ["store a0"]}, thp=2).thp_swapped_out()
    model = world.model("mainline_7_3", [])
    k, L = model.kernel, model.layout
    after, acts = run(model, "parent pageout_thp a0")
    assert acts[-1].branch == "pageout_thp" and not after[L.pmd_base]
    assert all(after[L.pte_index(0, a)] & PTE_SWAP for a in range(2))
    assert not any(after[L.folio_base + g] for g in range(2)) and not info(k, after, 0).large
    world = CowWorld.scripted({"parent": ["fork", "pageout_thp a1"]}, thp=2)
    _, acts = run(world.model("mainline_7_3", []), "parent fork", "parent pageout_thp a1")
    assert acts[-1].branch == "pageout_skipped"  # the child maps the folio too
    pinned = CowWorld.scripted({"parent": ["pin_ro a0 -> p", "pageout_thp a1"]}, thp=2)
    _, acts = run(pinned.model("mainline_7_3", []), "parent pin_ro a0 -> p", "parent pageout_thp a1")
    assert acts[-1].branch == "pageout_kept"


def test_paging_out_a_thp_range_that_a_copy_fault_left_in_two_folios_pages_out_both():
    world = CowWorld.scripted({"parent": ["fork", "store a0", "signal copied", "wait child1", "pageout_thp a0"],
                               "child1": ["await copied", "exit"]}, thp=2, thp_pte=True)
    model = world.model("mainline_7_3", [])
    L = model.layout
    after, acts = run(model, "parent fork", "parent store a0", "parent signal copied", "child1 await copied",
                      "child1 exit", "parent wait child1")
    assert acts[1].branch.endswith("copy") and after[L.folio_base + 1]  # a0 a base page now, a1 the folio's
    after, acts = run(model, "parent fork", "parent store a0", "parent signal copied", "child1 await copied",
                      "child1 exit", "parent wait child1", "parent pageout_thp a0")
    assert acts[-1].branch == "pageout_thp" and all(after[L.pte_index(0, a)] & PTE_SWAP for a in range(2))
    assert not any(after[L.folio_base + g] for g in range(L.pages))
