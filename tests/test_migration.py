"""Page migration (``mechanisms.migrate``): a new page with the old one's contents, PTE bits and exclusivity; a
refcount freeze that any reference but the mappings fails; and, beside GUP-fast in the PAE era, the PTE cleared
in a step of its own before the pin test (specs/o18*.py)."""

from __future__ import annotations

import pytest

from modelcheck.cow import CowWorld
from modelcheck.cow.layout import PAGE_EXCLUSIVE, PAGE_LOCKED, PAGE_UNMAPPING, PTE_SOFTDIRTY, PTE_WRITE, pte_page
from modelcheck.cow.mechanisms import migrate
from modelcheck.cow.mechanisms.memory import info, page_live
from modelcheck.engine import check
from modelcheck.spec import bind, load_spec

from tests.test_vma_ops import labels, run


def _model(path: str, policy: str):
    loaded = bind(path, load_spec(path))
    return loaded, loaded.world.model(policy, loaded.spec.invariants)


def _verdict(path: str, policy: str) -> str:
    loaded, model = _model(path, policy)
    return check(model).verdict


def test_migration_moves_the_contents_the_pte_bits_and_the_exclusivity_to_a_new_page():
    model = CowWorld.scripted({"parent": ["store a0", "clear_refs", "mprotect_ro a0"]},
                              events=["migrate"]).model("anon_exclusive", [])
    L, k = model.layout, model.kernel
    s, _ = run(model, "parent store a0", "parent clear_refs", "parent mprotect_ro a0")
    before = s[L.pte_index(0, 0)]
    value = s[L.value_index(0)]
    s, acts = run(model, "parent store a0", "parent clear_refs", "parent mprotect_ro a0", "kernel migrate(page 0)")
    assert acts[-1].branch == "migrate"
    after = s[L.pte_index(0, 0)]
    new = pte_page(after)
    assert new != 0 and not page_live(k, s, 0)  # the old page is freed
    assert s[L.value_index(new)] == value
    assert after & ~(-1 << 5) == before & ~(-1 << 5) and not after & PTE_WRITE and not after & PTE_SOFTDIRTY
    assert s[L.flags_base + new] & PAGE_EXCLUSIVE  # a readable-exclusive migration entry: RMAP_EXCLUSIVE
    assert info(k, s, new).refcount == 1


def test_a_page_parent_and_child_share_comes_back_shared_in_both():
    path = "specs/o18c_migrate_shared_after_fork.py"
    _, model = _model(path, "anon_exclusive")
    L, k = model.layout, model.kernel
    s, acts = run(model, "parent store a0", "parent fork", "kernel migrate(page 0)")
    assert acts[-1].branch == "migrate"
    new = pte_page(s[L.pte_index(0, 0)])
    assert pte_page(s[L.pte_index(1, 0)]) == new and info(k, s, new).mapcount == 2
    assert not s[L.flags_base + new] & PAGE_EXCLUSIVE  # readable entries: no RMAP_EXCLUSIVE


@pytest.mark.parametrize("policy", ["page_count", "anon_exclusive", "mainline_7_3"])
def test_a_pinned_page_is_never_migrated(policy):
    _, model = _model("specs/o18_pin_vs_migration.py", policy)
    s, _ = run(model, "parent store a0", "parent pin_rw a0 -> pin")
    assert "kernel migrate(page 0)" not in labels(model, s)
    s, _ = run(model, "parent store a0")
    assert "kernel migrate(page 0)" in labels(model, s)


def test_without_the_refcount_freeze_a_pinned_page_would_be_migrated(monkeypatch):
    """The invariants see what a migration of a pinned page would do: the pin keeps the old page."""
    path = "specs/o18_pin_vs_migration.py"
    assert _verdict(path, "page_count") == "holds"
    monkeypatch.setattr(migrate, "refcount_freezes", lambda page: True)
    assert _verdict(path, "page_count") == "violated"
    assert _verdict(path, "anon_exclusive") == "holds"  # the pin test of try_to_migrate_one refuses it first


def test_a_shared_page_migrated_as_exclusive_would_leak_the_parents_write(monkeypatch):
    path = "specs/o18c_migrate_shared_after_fork.py"
    assert _verdict(path, "anon_exclusive") == "holds"
    real = migrate._move

    def exclusive_move(k, t, page, mapped):
        t[k.layout.flags_base + page] |= PAGE_EXCLUSIVE  # as if every entry were readable-exclusive
        return real(k, t, page, mapped)
    monkeypatch.setattr(migrate, "_move", exclusive_move)
    assert _verdict(path, "anon_exclusive") == "violated"


def test_beside_gup_fast_the_pte_is_cleared_first_and_a_pin_taken_before_restores_it():
    _, model = _model("specs/o18f_fast_pin_vs_migration.py", "mainline_7_3")
    L, k = model.layout, model.kernel
    s, acts = run(model, "parent store a0", "kernel migrate(page 0)")
    assert acts[-1].branch == "migrate_clear"
    assert s[L.pte_index(0, 0)] == 0 and s[L.flags_base + 0] & PAGE_UNMAPPING and s[L.flags_base + 0] & PAGE_LOCKED
    assert info(k, s, 0).mapcount == 1  # the cleared PTE counts until it is restored or replaced
    # GUP-fast pinned before the PTE was cleared; its second look then finds the PTE gone and drops the pin
    s, acts = run(model, "parent store a0", "parent pin_rw_fast a0 -> pin", "kernel migrate(page 0)")
    assert acts[-1].branch == "migrate_clear"
    s2, acts = run(model, "parent store a0", "parent pin_rw_fast a0 -> pin", "kernel migrate(page 0)",
                   "kernel migrate(page 0)")
    assert acts[-1].branch == "migrate_restore"  # the pin test: a maybe-pinned exclusive page stays
    assert pte_page(s2[L.pte_index(0, 0)]) == 0 and s2[L.pte_index(0, 0)] & PTE_WRITE
    s3, acts = run(model, "parent store a0", "parent pin_rw_fast a0 -> pin", "kernel migrate(page 0)",
                   "parent pin_rw_fast a0 -> pin")
    assert acts[-1].branch.startswith("gup_fast_unpin")


def test_before_the_pae_era_migration_is_one_step_and_the_freeze_decides():
    _, model = _model("specs/o18f_fast_pin_vs_migration.py", "page_count")
    s, acts = run(model, "parent store a0", "kernel migrate(page 0)")
    assert acts[-1].branch == "migrate"
    s, acts = run(model, "parent store a0", "parent pin_rw_fast a0 -> pin")
    assert "kernel migrate(page 0)" not in labels(model, s)  # the pin GUP-fast holds fails the freeze


@pytest.mark.parametrize("path", ["specs/o18_pin_vs_migration.py", "specs/o18f_fast_pin_vs_migration.py",
                                  "specs/o18c_migrate_shared_after_fork.py"])
def test_every_migration_spec_holds_under_every_policy(path):
    loaded = bind(path, load_spec(path))
    for policy in loaded.world.policy_names():
        model = loaded.world.model(policy, loaded.spec.invariants)
        assert check(model).verdict == "holds", policy
