"""File-backed and shared mappings of small folios (scenario ``file=``, ``maps=``), and the GUP rules of each era
that go with them: each rule checked both ways, a buggy variant violating where the fixed one holds."""

from __future__ import annotations

import os
import platform
import shutil
from pathlib import Path

import pytest

from modelcheck import reproduce, runner
from modelcheck.cow import CowWorld
from modelcheck.cow.mechanisms import faults
from modelcheck.cow.policies import GupRequest, PageInfo, get_policy, policy_names
from modelcheck.cow.world import WorldError
from modelcheck.engine import SearchOptions, check
from modelcheck.faces import export
from modelcheck.faces.cli import main
from modelcheck.spec import bind, load_spec

ROOT = Path(__file__).resolve().parents[1]
PRE_6_5 = [p for p in policy_names() if p not in ("odirect_pins_6_5", "uffd_wp_async_6_7", "uffd_move_6_8", "large_folio_6_9",
                                                "large_swapin_6_11", "huge_zero_thp_6_13", "mm_owner_6_15_rc1", "mm_owner_6_15",
                                                "mainline_7_3")]


def verdict(world: CowWorld, policy: object, invariants: list[str]) -> str:
    return check(world.model(policy, invariants), SearchOptions()).verdict  # type: ignore[arg-type]


def spec_world(name: str) -> tuple[CowWorld, list[str]]:
    path = ROOT / "specs" / f"{name}.py"
    loaded = bind(path, load_spec(path))
    return loaded.world, list(loaded.spec.invariants)


# -- the page cache's page ---------------------------------------------------------------------------------------

def test_a_read_fault_maps_the_file_page_and_the_page_cache_counts_in_its_refcount():
    world = CowWorld.scripted({"parent": ["load a0", "load a1"]}, file="disk", maps={"a0": "private", "a1": "shared"})
    model = world.model("mainline_7_3", [])
    from modelcheck.cow.mechanisms.memory import info

    state = model.initial_states()[0]
    for _ in range(2):
        (_, state), = model.successors(state)
    k = model.kernel
    page = info(k, state, k.file_page)
    assert (page.mapcount, page.refcount, page.anon, page.exclusive) == (2, 3, False, False)


def test_a_kernel_that_wrote_the_file_through_a_private_mapping_is_caught(monkeypatch):
    """The buggy variant of do_wp_page for a page-cache page in a MAP_PRIVATE mapping: write it in place (as
    a shared mapping would). C17-memfd's invariants catch it: the file and the other mapping see the write."""
    world, invariants = spec_world("c17_file_cow_shmem")
    assert verdict(world, "mainline_7_3", invariants) == "holds"

    def written_in_place(k, t, proc, addr):  # type: ignore[no-untyped-def]
        i = k.layout.pte_index(proc, addr)
        t[i] |= 1  # the PTE made writable on the page-cache page itself
        return "file_shared"

    monkeypatch.setattr(faults, "file_write_fault", written_in_place)
    result = check(world.model("mainline_7_3", invariants), SearchOptions())
    assert result.verdict == "violated"
    assert result.violations[0].property in ("private_write_stays_private", "no_lost_write")
    assert check(world.model("mainline_7_3", ["private_write_stays_private"]), SearchOptions()).verdict == "violated"


def test_a_shared_mapping_writes_the_file_and_the_other_mapping_sees_it():
    world = CowWorld.scripted({"parent": ["load a1", "store a0", "load a1"]}, file="shmem",
                              maps={"a0": "shared", "a1": "shared"})
    # the store through a0 is a write to the file: a1 reads it, which no_lost_write (a1's own last write is
    # the initial contents) reports, and which private_write_stays_private does not (it is no private write)
    assert verdict(world, "mainline_7_3", ["private_write_stays_private"]) == "holds"
    assert verdict(world, "mainline_7_3", ["no_lost_write"]) == "violated"


# -- R/O long-term pins unshare non-anon pages in COW mappings (84209e87c696, v6.2) ----------------------------

@pytest.mark.parametrize("spec", ["c18_ro_pin_file_shmem", "c18_ro_pin_file_disk", "c18_ro_pin_zero_page"])
def test_the_6_2_rule_is_what_makes_the_ro_pin_of_a_non_anon_page_reliable(spec):
    """anon_exclusive (5.19) unshares anonymous pages only; 84209e87c696 adds the rest. The same era without
    that piece's rule (5.19's read_gup_unshares put back) is violated again."""
    world, invariants = spec_world(spec)
    assert verdict(world, "anon_exclusive", invariants) == "violated"
    assert verdict(world, "anon_exclusive_6_2", invariants) == "holds"
    newest = type(get_policy("mainline_7_3"))
    five_nineteen = type(get_policy("anon_exclusive"))

    class WithoutReliableLongtermPins(newest):  # type: ignore[misc, valid-type]
        def read_gup_unshares(self, request: GupRequest, page: PageInfo) -> bool:
            return five_nineteen.read_gup_unshares(self, request, page)

    assert verdict(world, WithoutReliableLongtermPins(), invariants) == "violated"


@pytest.mark.parametrize("fresh, kwargs", [(["a0"], {}), ([], {"file": "shmem", "maps": {"a0": "private"}})])
def test_a_short_term_pin_of_a_non_anon_page_is_not_unshared(fresh, kwargs):
    """gup_must_unshare asks FOLL_LONGTERM of a page that is not anonymous: a short-term R/O pin (O_DIRECT, most
    pin_user_pages users) of the zero page or a page-cache page in a private mapping takes it as mapped, and a
    later write copies away from it, in every era but the forced COW break's; the long-term pin holds from 6.2."""
    def world(kind: str) -> CowWorld:
        return CowWorld.scripted({"parent": ["load a0", f"{kind} a0 -> pin", "store a0", "dma_read pin"]},
                                 fresh=fresh, **kwargs)

    assert verdict(world("pin_ro"), "mainline_7_3", ["pin_coherent"]) == "holds"
    assert verdict(world("pin_ro_short"), "mainline_7_3", ["pin_coherent"]) == "violated"
    assert verdict(world("pin_ro_short"), "gup_cow_break", ["pin_coherent"]) == "holds"


def test_a_short_term_ro_pin_of_an_anonymous_page_is_unshared_from_5_19():
    world = CowWorld.scripted({"parent": ["fork", "pin_ro_short a0 -> pin", "store a0", "dma_read pin"]})
    assert verdict(world, "page_count_fork_copy", ["pin_coherent"]) == "violated"
    assert verdict(world, "anon_exclusive", ["pin_coherent"]) == "holds"


def test_no_pin_of_a_shared_mapping_is_unshared():
    """A MAP_SHARED mapping is no COW mapping: a R/O long-term pin holds the page-cache page, in every era,
    and a write through the mapping goes to that page (pin_coherent)."""
    world = CowWorld.scripted({"parent": ["load a0", "pin_ro a0 -> pin", "store a0", "dma_read pin"]},
                              file="shmem", maps={"a0": "shared"})
    for policy in policy_names():
        assert verdict(world, policy, ["pin_coherent", "no_lost_write"]) == "holds", policy


# -- long-term writable pins of dirty-tracked shared mappings (8ac268436e6d, v6.5), io_uring (edd478269640) ------

def test_the_refusal_is_of_dirty_tracked_shared_mappings_only():
    mainline = get_policy("mainline_7_3")

    def ask(**vma: bool) -> bool:
        return mainline.gup_refuses(GupRequest(write=True, pin=True, longterm=True, pte_writable=True, **vma))

    assert ask(cow_mapping=False, anon_vma=False, needs_dirty_tracking=True)
    assert not ask(cow_mapping=False, anon_vma=False, needs_dirty_tracking=False)  # shmem
    assert not mainline.gup_refuses(GupRequest(write=True, pin=True, longterm=False, pte_writable=True,
                                               cow_mapping=False, anon_vma=False, needs_dirty_tracking=True))
    assert not mainline.gup_refuses(GupRequest(write=False, pin=True, longterm=True, pte_writable=True,
                                               cow_mapping=False, anon_vma=False, needs_dirty_tracking=True))
    assert not any(get_policy(p).gup_refuses(GupRequest(write=True, pin=True, longterm=True, pte_writable=True,
                                                        cow_mapping=False, anon_vma=False,
                                                        needs_dirty_tracking=True)) for p in PRE_6_5)
    assert all(get_policy(p).iouring_refuses(True) and not get_policy(p).iouring_refuses(False) for p in PRE_6_5)
    assert not mainline.iouring_refuses(True)


def test_a_kernel_that_refuses_too_much_fails_the_cases_that_should_work():
    """allowed_pin_not_refused: refusing every long-term writable pin of a file mapping (without asking whether
    it needs dirty tracking) fails gup_longterm.c's shmem and private cases, which a correct kernel passes."""
    newest = type(get_policy("mainline_7_3"))

    class RefusesEveryFileMapping(newest):  # type: ignore[misc, valid-type]
        def gup_refuses(self, request: GupRequest) -> bool:
            return request.write and request.pin and request.longterm and not request.anon_vma

    for spec in ("gl_shared_rw_shmem", "gl_shared_iouring_shmem"):
        world, invariants = spec_world(spec)
        assert verdict(world, "mainline_7_3", invariants) == "holds"
        result = check(world.model(RefusesEveryFileMapping(), invariants), SearchOptions())
        assert result.verdict == "violated" and result.violations[0].property == "allowed_pin_not_refused"
    world, invariants = spec_world("gl_shared_rw_disk")  # where the refusal is right, it still holds
    assert verdict(world, RefusesEveryFileMapping(), invariants) == "holds"


def test_a_kernel_that_refuses_nothing_holds_a_writable_pin_of_a_dirty_tracked_file():
    world, invariants = spec_world("gl_shared_rw_disk")
    newest = type(get_policy("mainline_7_3"))

    class RefusesNothing(newest):  # type: ignore[misc, valid-type]
        def gup_refuses(self, request: GupRequest) -> bool:
            return False

    result = check(world.model(RefusesNothing(), invariants), SearchOptions())
    assert result.verdict == "violated" and result.violations[0].property == "no_longterm_pin_of_dirty_tracked_file"
    assert verdict(world, "mainline_7_3", invariants) == "holds"


def test_io_uring_before_6_5_refuses_a_buffer_gup_would_allow():
    world, invariants = spec_world("gl_private_iouring_shmem")
    result = check(world.model("anon_exclusive_6_2", invariants), SearchOptions())
    assert result.verdict == "violated" and result.violations[0].property == "allowed_pin_not_refused"
    assert verdict(world, "odirect_pins_6_5", invariants) == "holds"


# -- misuse: one line --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, needle", [
    ({"file": "nfs", "maps": {"a0": "shared"}}, "the mapped file is one of shmem, disk"),
    ({"maps": {"a0": "shared"}}, "the mapped file is one of"),
    ({"file": "shmem"}, "nothing maps it"),
    ({"file": "shmem", "maps": {"a0": "public"}}, "a file is mapped 'private' or 'shared'"),
    ({"file": "shmem", "maps": {"b0": "private"}}, "is not an address"),
    ({"file": "shmem", "maps": {"a3": "private"}}, "is not an address of the world"),
    ({"file": "shmem", "maps": ["a0"]}, "maps must map addresses"),
    ({"file": "shmem", "maps": {"a0": "private"}, "fresh": ["a0"]}, "either fresh anonymous addresses or file"),
])
def test_a_malformed_file_mapping_is_refused_in_one_line(kwargs, needle):
    with pytest.raises(WorldError, match=needle) as err:
        CowWorld.scripted({"parent": ["load a0"]}, **kwargs)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("programs, needle", [
    ({"parent": ["fork", "load a0"]}, "models only"),
    ({"parent": ["load a0", "vmsplice a0"]}, "models only"),
    ({"parent": ["load a0", "munmap a0"]}, "models only"),
])
def test_what_file_mappings_do_not_model_is_refused_in_one_line(programs, needle):
    with pytest.raises(WorldError, match=needle) as err:
        CowWorld.scripted(programs, file="shmem", maps={"a0": "private"})
    assert "\n" not in str(err.value)
    with pytest.raises(WorldError, match="no kernel events"):
        CowWorld.scripted({"parent": ["load a0"]}, events=["lru"], file="shmem", maps={"a0": "private"})


def test_the_cli_says_a_bad_file_spec_in_one_line(tmp_path, capsys):
    spec = tmp_path / "bad.py"
    spec.write_text("from modelcheck import Spec\nfrom modelcheck.cow import CowWorld\n"
                    "SPEC = Spec(id='X', title='x', world=lambda: CowWorld.scripted({'parent': ['load a0']}, "
                    "file='ext9', maps={'a0': 'shared'}), invariants=['pin_coherent'])\n")
    assert main([str(spec)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("modelcheck: ") and "\n" not in err and "ext9" in err


# -- reductions keep the file's page (and the zero page) in their slot -------------------------------------------

NEW_SPECS = ("c17_file_cow_shmem", "c17_file_cow_disk", "c18_ro_pin_zero_page", "c18_ro_pin_file_shmem",
             "c18_ro_pin_file_disk", "gl_shared_rw_disk", "gl_shared_ro_shmem", "gl_private_iouring_shmem")


@pytest.mark.parametrize("spec", NEW_SPECS)
def test_symmetry_reduction_changes_no_verdict_of_a_world_with_a_fixed_page(spec):
    """A pin of the zero page or of the file's page holds the fixed slot: renaming must keep it there, or a
    reduced state would violate what its original does not (pin_coherent compares the slots)."""
    world, invariants = spec_world(spec)
    for policy in ("anon_exclusive", "mainline_7_3"):
        plain = check(world.model(policy, invariants), SearchOptions(stop_at_first=False))
        reduced = check(world.model(policy, invariants), SearchOptions(stop_at_first=False, reduce=True))
        assert reduced.verdict == plain.verdict, (spec, policy)
        assert {v.property for v in reduced.violations} == {v.property for v in plain.violations}


# -- counterexamples: the refusal that decided, and the trace as a spec again -------------------------------------

def test_the_deciding_step_of_a_pin_on_a_dirty_tracked_file_is_the_refusal_not_made(capsys):
    assert main([str(ROOT / "specs" / "gl_shared_rw_disk.py"), "--policy", "anon_exclusive_6_2", "--no-timing"]) == 0
    out = capsys.readouterr().out
    assert "deciding: step 2: parent's GUP of page" in out and "allowed it" in out
    assert "refusing it here avoids the violation" in out


def test_the_deciding_step_of_an_old_io_uring_is_its_own_refusal(capsys):
    assert main([str(ROOT / "specs" / "gl_private_iouring_shmem.py"), "--policy", "refcount_5_18",
                 "--no-timing"]) == 0
    out = capsys.readouterr().out
    assert "refused it as file-backed (-EOPNOTSUPP)" in out and "registering it here avoids the violation" in out


def test_a_file_world_trace_exports_to_a_spec_that_runs_again(tmp_path, capsys):
    trace, spec = tmp_path / "trace.json", tmp_path / "again.py"
    assert main([str(ROOT / "specs" / "c18_ro_pin_file_disk.py"), "--policy", "anon_exclusive", "--quiet",
                 "--trace-out", str(trace)]) == 0
    assert main(["export", str(trace), "--to", "spec", "--out", str(spec)]) == 0
    text = spec.read_text()
    assert 'file="disk", maps={"a0": "private", "a1": "shared"}' in text
    capsys.readouterr()
    assert main([str(spec), "--policy", "anon_exclusive", "--no-timing"]) == 0
    assert "violated  violated" in capsys.readouterr().out


# -- the C reproducer maps the world's file and judges the registration -------------------------------------------

GCC = shutil.which("gcc")
live_only = pytest.mark.skipif(platform.system() != "Linux" or (GCC is None and not os.environ.get("CI")),
                               reason="the reproducers are Linux programs built with gcc")


def _gl_counterexample(spec: str, policy: str) -> tuple[dict, str | None]:
    """The spec's counterexample under ``policy``, and what the model of this machine's era says of it."""
    path = ROOT / "specs" / f"{spec}.py"
    loaded = runner.prepare(bind(path, load_spec(path)), SearchOptions())
    record = reproduce.counterexample_record(
        loaded, policy, lambda loaded, run: export.trace_document(loaded, [run], ROOT / "t.json")["traces"][0])
    assert record is not None
    return record, reproduce.era_verdict(loaded, record, reproduce.era())


def test_the_reproducer_of_a_file_world_maps_the_file_and_judges_the_registration():
    record, _ = _gl_counterexample("gl_shared_rw_disk", "anon_exclusive_6_2")
    source = runner.c_reproducer(record)
    assert "static const int file_mapped[NADDR] = { 2 };" in source and "#define FILE_IS_SHMEM 0" in source
    assert "if (!map_file())" in source and "judge_registered(0, 0, 1);" in source
    record, _ = _gl_counterexample("gl_private_iouring_shmem", "anon_exclusive_6_2")
    source = runner.c_reproducer(record)
    assert "file_mapped[NADDR] = { 1 };" in source and "judge_registered(0, 0, 0);" in source
    assert "map_file" not in runner.c_reproducer(_gl_counterexample("c18_ro_pin_zero_page", "anon_exclusive")[0])


@live_only
@pytest.mark.parametrize("spec", ["gl_shared_rw_disk", "gl_shared_iouring_shmem", "gl_private_iouring_shmem",
                                  "gl_private_iouring_disk"])
def test_the_live_kernel_judges_the_pin_of_a_file_mapping_as_its_eras_model(spec, tmp_path):
    """An era before 6.5 got these wrong; the counterexample's schedule on this machine's kernel must come out
    as the model of its era says (and, inverted, the other way: the check can fail)."""
    record, model = _gl_counterexample(spec, "anon_exclusive_6_2")
    live = reproduce.build_and_run(runner.c_reproducer(record), tmp_path, spec, GCC or "gcc")
    if live.result == "unsupported":
        pytest.skip(live.detail)
    assert (live.result, model) == ("holds", "holds") or live.result == model, live.detail
    inverted = reproduce.build_and_run(runner.c_reproducer(record, invert=True), tmp_path, f"{spec}-inverted",
                                       GCC or "gcc")
    assert inverted.result == ("violated" if model == "holds" else "holds"), inverted.detail
