"""FOLL_FORCE writes into private file mappings, MADV_DONTNEED of them, and UFFDIO_CONTINUE on shmem: the two
Dirty COWs of a file (CVE-2016-5195 as exploited, O14-file; CVE-2022-2590 on shmem, B1), step by step under
each era's rule, the refusals, and the reproducer of the program-order run on this kernel."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelcheck import reproduce, runner
from modelcheck.cow import CowWorld
from modelcheck.cow.layout import FORCE_FAULTED, PTE_DIRTY, PTE_WRITE, pte_page
from modelcheck.cow.mechanisms.memory import mapcount, refcount
from modelcheck.cow.world import WorldError
from modelcheck.engine import SearchOptions, check
from modelcheck.spec import bind, load_spec

from tests.test_vma_ops import run

ROOT = Path(__file__).resolve().parents[1]


def minor_world(programs: dict[str, list[str]]) -> CowWorld:
    return CowWorld.scripted(programs, file="shmem", maps={"a0": "private"})


def loaded(name: str):  # type: ignore[no-untyped-def]
    path = ROOT / "specs" / name
    return bind(path, load_spec(path))


# -- UFFDIO_CONTINUE and minor faults -----------------------------------------------------------------------------

def test_continue_maps_the_page_cache_page_read_only_dirty_from_5_16_clean_before_refused_before_5_14():
    programs = {"parent": ["mprotect_ro a0"], "parent.2": ["uffd_continue a0"]}
    for policy, branch, dirty in (("page_count_fork_copy", "uffd_continue_dirty", True),
                                  ("mainline_7_3", "uffd_continue_dirty", True)):
        model = minor_world(programs).model(policy, [])
        state, acts = run(model, "parent.2 uffd_continue a0")
        pte = state[model.layout.pte_index(0, 0)]
        assert acts[-1].branch == branch and pte_page(pte) == model.kernel.file_page, policy
        assert bool(pte & PTE_DIRTY) is dirty and not pte & PTE_WRITE
        k = model.kernel
        assert (mapcount(k, state, k.file_page), refcount(k, state, k.file_page)) == (1, 2)  # the page cache's own
    model = minor_world(programs).model("page_count", [])  # v5.9: no minor faults on shmem yet
    state, acts = run(model, "parent.2 uffd_continue a0")
    assert acts[-1].branch == "uffd_continue_refused" and state[model.layout.pte_index(0, 0)] == 0


def test_continue_fails_with_eexist_on_a_mapped_pte_and_a_read_fault_is_resolved_by_it():
    model = minor_world({"parent": ["load a0"], "parent.2": ["uffd_continue a0"]}).model("refcount_5_18", [])
    state, acts = run(model, "parent load a0")
    assert acts[-1].branch == "uffd_minor+uffd_continue_dirty+read"
    _, acts = run(model, "parent load a0", "parent.2 uffd_continue a0")
    assert acts[-1].branch == "uffd_continue_eexist"
    # without a minor registration (no thread calls UFFDIO_CONTINUE) the read fault maps the page itself, clean
    plain = CowWorld.scripted({"parent": ["load a0"]}, file="shmem", maps={"a0": "private"}).model("refcount_5_18", [])
    state, acts = run(plain, "parent load a0")
    assert acts[-1].branch == "file_read+read" and not state[plain.layout.pte_index(0, 0)] & PTE_DIRTY


def test_a_store_after_a_minor_fault_copies_the_page_as_any_write_to_a_private_file_mapping():
    model = minor_world({"parent": ["store a0"], "parent.2": ["uffd_continue a0"]}).model("mainline_7_3", [])
    state, acts = run(model, "parent store a0")
    assert acts[-1].branch == "uffd_minor+uffd_continue_dirty+file_copy"
    pte = state[model.layout.pte_index(0, 0)]
    assert pte_page(pte) != model.kernel.file_page and pte & PTE_WRITE


def test_a_forced_write_whose_fault_is_a_userfault_starts_over_without_foll_cow():
    model = minor_world({"parent": ["mprotect_ro a0", "force_write a0"],
                         "parent.2": ["uffd_continue a0"]}).model("anon_exclusive", [])
    L = model.layout
    state, acts = run(model, "parent mprotect_ro a0", "parent force_write a0")
    assert acts[-1].branch == "uffd_minor+uffd_continue_dirty+force_retry" and state[L.force_base] == FORCE_FAULTED
    # the dirty read-only PTE is not followed by a GUP that has not broken COW itself: a COW fault first
    state, acts = run(model, "parent mprotect_ro a0", "parent force_write a0", "parent force_write a0")
    assert acts[-1].branch == "file_copy+force_retry"


# -- the two races ------------------------------------------------------------------------------------------------

def test_cve_2022_2590_the_retry_follows_the_dirty_page_cache_pte_that_continue_mapped():
    spec = loaded("b1_shmem_continue_force_write.py")
    model = spec.world.model("anon_exclusive", list(spec.spec.invariants))
    L, k = model.layout, model.kernel
    state, acts = run(model, "parent mprotect_ro a0", "parent load a0", "parent force_write a0",
                      "parent.2 dontneed a0", "parent.3 uffd_continue a0", "parent force_write a0")
    assert [a.branch for a in acts[2:]] == ["file_copy+force_retry", "dontneed", "uffd_continue_dirty",
                                            "force_follow"]
    assert state[L.value_index(k.file_page)] != model.tags.code(0, 0)  # the file holds the forced write
    fixed = spec.world.model("anon_exclusive_6_2", list(spec.spec.invariants))
    state, acts = run(fixed, "parent mprotect_ro a0", "parent load a0", "parent force_write a0",
                      "parent.2 dontneed a0", "parent.3 uffd_continue a0", "parent force_write a0")
    assert acts[-1].branch == "file_copy+force_retry"  # 5535be309971: no exclusive anonymous page, a fault
    assert state[L.value_index(k.file_page)] == fixed.tags.code(0, 0)


@pytest.mark.parametrize("spec, violated", [
    ("b1_shmem_continue_force_write.py", {"dirty_cow", "page_count_fork_copy", "refcount_5_18", "anon_exclusive",
                                          "page_count_refuse_wrprotect"}),
    ("o14_dirty_cow_file.py", {"dirty_cow"}),
])
def test_the_file_dirty_cows_are_violated_exactly_where_history_says(spec, violated):
    from modelcheck.cow.policies import policy_names

    found = loaded(spec)
    verdicts = {p: check(found.world.model(p, list(found.spec.invariants)), SearchOptions()).verdict.value
                for p in policy_names()}
    assert {p for p, v in verdicts.items() if v == "violated"} == violated
    assert all(found.spec.expect[p] == v for p, v in verdicts.items())


@pytest.mark.parametrize("programs, kwargs, message", [
    ({"parent": ["uffd_continue a0"]}, {"file": "disk", "maps": {"a0": "private"}}, "a shmem file only"),
    ({"parent": ["uffd_continue a1"]}, {"file": "shmem", "maps": {"a0": "private"}, "addresses": 2},
     "a shmem file only"),
    ({"parent": ["uffd_continue a0"]}, {}, "a shmem file only"),  # an anonymous world: no file to continue from
    ({"parent": ["force_write a0"]}, {"file": "shmem", "maps": {"a0": "shared"}}, "private mappings only"),
    ({"parent": ["load a0", "dontneed a1"]}, {"file": "shmem", "maps": {"a0": "private"}, "addresses": 2},
     "empties only them"),
])
def test_what_continue_and_forced_writes_on_files_do_not_model_is_refused_in_one_line(programs, kwargs, message):
    with pytest.raises(WorldError, match=message) as err:
        CowWorld.scripted(programs, **kwargs)
    assert "\n" not in str(err.value)


# -- the reproducer -----------------------------------------------------------------------------------------------

def test_a_fault_and_its_retry_with_nothing_between_are_one_system_call_of_the_program():
    """In program order the forced write's COW fault and its retry are consecutive steps: one pwrite of
    /proc/self/mem, judged against the file; with DONTNEED between them (the counterexample) it cannot be."""
    found = loaded("o14_dirty_cow_file.py")
    record = reproduce.program_order_record(found, "private_write_stays_private", "mainline_7_3")
    source = runner.c_reproducer(record)
    assert "unsupported" not in source.split("int main", 1)[1].split("RESULT", 1)[0]
    assert source.count("do_force_write(") == 2  # its helper, and the one call of the program
    assert "judge_file_untouched(" in source and "if (!map_file())" in source
    b1 = loaded("b1_shmem_continue_force_write.py")
    source = runner.c_reproducer(reproduce.program_order_record(b1, "private_write_stays_private", "mainline_7_3"))
    assert "UFFDIO_CONTINUE needs a userfaultfd registered for minor faults" in source
