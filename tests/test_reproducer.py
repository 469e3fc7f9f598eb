"""The C reproducer (``--to c``): generated from real counterexamples, compiled with gcc, run on this kernel.

Each scripted scenario that is violated under some policy gives a counterexample
schedule; the model replays that schedule under the policy of the running
kernel's era (``runner.era_policy`` of ``uname -r``) and the generated program
runs it on the kernel: where the program can judge (its RESULT is holds or
violated), the two must agree. A negative control (every judgement inverted)
must report violated, so a check that cannot fail would show.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import sys
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from modelcheck import reproduce, runner
from modelcheck.engine import SearchOptions
from modelcheck.faces import export, exports
from modelcheck.faces.cli import main
from modelcheck.spec import bind, load_spec

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "tests" / "data" / "golden"
ON_LINUX = sys.platform.startswith("linux")
GCC = shutil.which("gcc")
needs_gcc = pytest.mark.skipif(GCC is None and not os.environ.get("CI"),
                               reason="no gcc (.ci/run installs it: under CI these tests run)")
needs_linux = pytest.mark.skipif(not ON_LINUX, reason="the reproducers are Linux programs")


def era() -> str:
    return reproduce.era()


@cache
def loaded_spec(spec_file: str) -> Any:
    path = ROOT / "specs" / spec_file
    return runner.prepare(bind(path, load_spec(path)), SearchOptions())


@cache
def violating_policies_of(spec_file: str) -> list[str]:
    loaded = loaded_spec(spec_file)
    return reproduce.violating_policies(loaded, reproduce.verdicts_of(loaded))


def record_of(loaded: Any, run: Any) -> dict[str, Any]:
    return export.trace_document(loaded, [run], ROOT / "trace.json")["traces"][0]


@cache
def counterexample(spec_file: str, policy: str | None = None) -> tuple[dict[str, Any], str | None] | None:
    """The spec's counterexample under ``policy`` (default ``reproduce.chosen_policy``), and what the model says
    of that schedule under the era's policy: violated, holds, or None when the era's model cannot run it."""
    loaded = loaded_spec(spec_file)
    policy = policy or reproduce.chosen_policy(violating_policies_of(spec_file), era())
    if policy is None:
        return None
    record = reproduce.counterexample_record(loaded, policy, record_of)
    assert record is not None
    return record, reproduce.era_verdict(loaded, record, era())


@cache
def program_order(spec_file: str, prop: str) -> tuple[dict[str, Any], str | None] | None:
    loaded = loaded_spec(spec_file)
    record = reproduce.program_order_record(loaded, prop, era())
    return None if record is None else (record, reproduce.era_verdict(loaded, record, era()))


def compile_and_run(source: str, tmp_path: Path, name: str) -> tuple[str, str, str]:
    """Build the program with -Wall -Werror, run it under a timeout: (scenario, result, detail) of its RESULT."""
    live = reproduce.build_and_run(source, tmp_path, name, GCC or "gcc")
    assert live.output.startswith("TAP version 13\n") or "\nTAP version 13\n" in live.output
    return live.scenario, live.result, live.detail


def _live_agrees(spec_file: str, tmp_path: Path, policy: str | None = None) -> tuple[str, str, str | None]:
    """Run the counterexample's program; where it judges, its result must be the era's model's."""
    found = counterexample(spec_file, policy)
    if found is None:
        pytest.skip(f"{spec_file}: no policy violates it, so there is no counterexample schedule to run")
    record, model = found
    scenario, result, detail = compile_and_run(runner.c_reproducer(record), tmp_path, record["spec_id"])
    assert scenario == record["spec_id"]
    if result == "unsupported":
        return result, detail, model
    assert model is not None, f"{spec_file}: the live kernel judged ({result}: {detail}) a schedule the " \
                              f"{era()} model cannot run to its end"
    assert result == model, f"{spec_file} under {record['policy']}'s schedule on {platform.release()} " \
                            f"({era()}): live {result} ({detail}), model {model}"
    return result, detail, model


# -- the era ---------------------------------------------------------------------------------------------------

def test_the_era_of_a_release_comes_from_the_policies_declared_releases():
    assert runner.era_policy("6.18.44-fc") == "mm_owner_6_15"
    assert runner.era_policy("6.7.12") == "uffd_wp_async_6_7"
    assert runner.era_policy("6.6.30") == "odirect_pins_6_5"
    assert runner.era_policy("6.4.16") == "per_vma_lock_6_4"  # (major.minor: a 6.4.y with the fix too)
    assert runner.era_policy("6.3") == "anon_exclusive_6_2"
    assert runner.era_policy("6.1.0") == "anon_exclusive"
    assert runner.era_policy("5.19") == "anon_exclusive"
    assert runner.era_policy("5.18.3") == "refcount_5_18"
    assert runner.era_policy("5.17.1") == "page_count_fork_copy"
    assert runner.era_policy("5.11") == "page_count_fork_copy"
    assert runner.era_policy("5.10.200") == "page_count_early_cow"  # (5.10 as released; 5.10.y backported 57efa1fe5957)
    assert runner.era_policy("5.8.0") == "gup_cow_break"
    assert runner.era_policy("4.19.0") == "mapcount"
    assert runner.era_policy("4.4.0") == "dirty_cow"
    assert runner.era_policy("not a release") is None
    proposals = {e["name"] for e in runner.policy_catalogue() if not all(p["merged"] for p in e["pieces"])}
    assert not proposals & {runner.era_policy(f"{major}.{minor}") for major in (4, 5, 6, 7) for minor in range(20)}


# -- the generated source ----------------------------------------------------------------------------------------

def test_the_c7_reproducer_is_the_golden_file():
    """Regenerated by: python -m modelcheck specs/c7_iouring_mprotect.py --policy page_count --quiet --export c
    --out tests/data/golden/c7-page_count.c"""
    loaded = bind(ROOT / "specs" / "c7_iouring_mprotect.py", load_spec(ROOT / "specs" / "c7_iouring_mprotect.py"))
    run = next(runner.run_spec(loaded, ["page_count"], SearchOptions()))
    record = export.trace_document(loaded, [run], ROOT / "trace.json")["traces"][0]
    assert exports.render("c", [record]) == (GOLDEN / "c7-page_count.c").read_text()


def test_the_program_asks_the_kernel_for_the_configuration_of_the_trace():
    """C7 needs soft-dirty tracking for its clear_refs; C7-nosd needs a kernel without it, where clear_refs asks
    no store to fault (no wrprotect judgement is armed by it)."""
    full = runner.c_reproducer(counterexample("c7_iouring_mprotect.py", "page_count")[0])
    record = counterexample("c7_iouring_mprotect_no_soft_dirty.py", "page_count")[0]
    assert record["world_settings"]["kernel_config"]["soft_dirty"] is False
    off = runner.c_reproducer(record)
    assert "if (!need_soft_dirty())" in full and "if (!need_no_soft_dirty())" not in full
    assert "if (!need_no_soft_dirty())" in off and "if (!need_soft_dirty())" not in off
    swapless = json.loads(json.dumps(counterexample("c12b_iouring_mprotect_swapped.py", "page_count")[0]))
    swapless["world_settings"] = {"kernel_config": {"swap": False}}
    source = runner.c_reproducer(swapless)
    assert "if (!need_no_swap())" in source and "do_pageout_no_swap(" in source
    swapless["world_settings"] = {"kernel_config": {"swap_pte_exclusive": False}}
    assert "RESULT %s unsupported %s" in runner.c_reproducer(swapless) and \
        "__HAVE_ARCH_PTE_SWP_EXCLUSIVE" in runner.c_reproducer(swapless)


def test_a_trace_of_free_parameters_is_a_one_line_usage_error(capsys, tmp_path):
    found = counterexample("vmsplice.py")
    assert found is not None
    record = dict(found[0], parameters={"h0": 1023})
    trace_file = tmp_path / "t.json"
    trace_file.write_text(json.dumps({"schema": export.TRACE_SCHEMA, "modelcheck": "0", "traces": [record]}))
    code = main(["export", str(trace_file), "--to", "c"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "C reproducer" in err and "parameters" in err


def test_a_step_no_program_can_force_makes_an_unsupported_program():
    found = counterexample("o10_speculative_reference.py")
    assert found is not None
    source = runner.c_reproducer(found[0])
    assert "RESULT %s unsupported %s" in source and "speculative page reference" in source
    assert "do_store" not in source  # no verdict is even attempted


def test_a_trace_that_stops_inside_one_system_call_is_unsupported():
    """O14's Dirty COW schedule puts MADV_DONTNEED between a forced write's fault and its retry: one pwrite of
    /proc/self/mem cannot be held open there, so no verdict is attempted."""
    found = counterexample("o14_dirty_cow_dontneed.py", "dirty_cow")
    assert found is not None
    source = runner.c_reproducer(found[0])
    assert "RESULT %s unsupported %s" in source and "inside one system call" in source
    assert "do_force_write(2" not in source


def test_mremap_dontneed_and_forced_writes_are_system_calls_of_the_program():
    loaded = loaded_spec("o14_dirty_cow_dontneed.py")
    source = runner.c_reproducer(reproduce.program_order_record(loaded, "no_lost_write", era()))
    assert "do_force_write(2, 0, 0, " in source and ', 0, MADV_DONTNEED, "MADV_DONTNEED")' in source
    assert "/proc/self/mem" in source
    loaded = loaded_spec("m1_mremap_vmsplice_child.py")
    source = runner.c_reproducer(reproduce.program_order_record(loaded, "no_leak_to_child", era()))
    assert "do_mremap(" in source and "MREMAP_FIXED" in source


def test_a_property_the_kernel_does_not_show_is_unsupported():
    found = counterexample("o16_maybe_pinned_false_positive.py")
    assert found is not None
    assert "not visible from user space" in runner.c_reproducer(found[0])


THP_UNMAP = ["parent fork", "parent store a0", "child1 vmsplice a0", "child1 munmap_thp a0", "child1 pipe_read"]


def test_a_step_the_era_takes_in_steps_is_one_operation_of_the_program():
    """From 6.15 munmap of a PMD drops its counters one step at a time: where the program makes one munmap,
    the era's model takes them at once (whole_steps); where the schedule goes on with it later, as it is."""
    loaded = loaded_spec("c3_thp_vmsplice_child.py")
    unmap = "child1 munmap_thp a0"
    assert reproduce.whole_steps(loaded, "mm_owner_6_15", ["no_leak_to_child"], THP_UNMAP) == \
        THP_UNMAP[:4] + [unmap] * 3 + THP_UNMAP[4:]
    assert reproduce.whole_steps(loaded, "large_folio_6_9", ["no_leak_to_child"], THP_UNMAP) == THP_UNMAP
    stepped = THP_UNMAP[:4] + [unmap] * 3 + THP_UNMAP[4:]
    assert reproduce.whole_steps(loaded, "mm_owner_6_15", ["no_leak_to_child"], stepped) == stepped
    assert reproduce.era_verdict(loaded, {"steps": [{"label": label} for label in THP_UNMAP],
                                          "invariants": ["no_leak_to_child"], "property": "no_leak_to_child"},
                                 "mm_owner_6_15") == "holds"


# -- on this kernel ----------------------------------------------------------------------------------------------

@needs_linux
@needs_gcc
def test_a_program_whose_steps_skip_numbers_takes_its_turns_in_order(tmp_path):
    """The whole run of C3-thp under 6.15 merges munmap's four steps into one system call: the turns go by
    the trace's step numbers, which skip the merged ones."""
    record = reproduce.program_order_record(loaded_spec("c3_thp_vmsplice_child.py"), "no_leak_to_child",
                                            "mm_owner_6_15")
    assert record is not None and [s["label"] for s in record["steps"]].count("child1 munmap_thp a0") == 4
    scenario, result, detail = compile_and_run(runner.c_reproducer(record), tmp_path, "c3-thp-whole")
    assert (scenario, result) == ("C3-thp", "holds"), detail


@needs_linux
@needs_gcc
@pytest.mark.parametrize("spec_file", ["vmsplice.py", "c5_vmsplice_before_fork.py", "c8_iouring_fork.py",
                                       "c7_iouring_mprotect_no_soft_dirty.py"])
def test_the_live_kernel_agrees_with_the_model_of_its_era(spec_file, tmp_path):
    result, detail, model = _live_agrees(spec_file, tmp_path)
    if result == "unsupported":
        pytest.skip(f"{spec_file}: {detail}")


@needs_linux
@needs_gcc
def test_the_device_sees_the_owners_last_write_through_the_pin(tmp_path):
    """C8 run whole: the device's read through the io_uring fixed buffer (after fork and the parent's store)
    is judged against the parent's store, as the era's model judges it."""
    found = program_order("c8_iouring_fork.py", "no_lost_write")
    assert found is not None
    record, model = found
    assert record["steps"][-1]["label"] == "parent dma_read buf"
    scenario, result, detail = compile_and_run(runner.c_reproducer(record), tmp_path, "c8-whole")
    if result == "unsupported":
        pytest.skip(detail)
    assert (result, model) == ("holds", "holds")


@needs_linux
@needs_gcc
def test_the_negative_control_reports_violated(tmp_path):
    """The same programs with every judgement inverted: where the kernel holds they must say violated, so the
    checks are seen to be able to fail."""
    for spec_file in ("vmsplice.py", "c8_iouring_fork.py"):
        found = counterexample(spec_file)
        assert found is not None
        record, model = found
        scenario, result, detail = compile_and_run(runner.c_reproducer(record, invert=True), tmp_path,
                                                   f"{record['spec_id']}-inverted")
        if result == "unsupported":
            pytest.skip(f"{spec_file}: {detail}")
        assert (model, result) == ("holds", "violated"), detail


@needs_linux
@needs_gcc
def test_a_step_the_kernel_refuses_makes_the_run_unsupported_not_a_verdict(tmp_path):
    """A store into a mapping made read-only (a schedule edited by hand) is killed by SIGSEGV: the program
    says so, and gives no verdict."""
    found = counterexample("c8_iouring_fork.py")
    assert found is not None
    record = json.loads(json.dumps(found[0]))
    record["steps"].insert(1, dict(record["steps"][0], label="parent mprotect_ro a0", state=None))
    scenario, result, detail = compile_and_run(runner.c_reproducer(record), tmp_path, "c8-refused")
    if "skip:" in detail:
        pytest.skip(detail)
    assert (scenario, result) == ("C8", "unsupported") and "SIGSEGV" in detail


@needs_linux
@needs_gcc
def test_a_unforceable_program_compiles_and_says_why(tmp_path):
    found = counterexample("o10_page_lock.py")
    assert found is not None
    scenario, result, detail = compile_and_run(runner.c_reproducer(found[0]), tmp_path, "o10-lock")
    assert (scenario, result) == ("O10-lock", "unsupported") and "page lock" in detail


SPEC_FILES = sorted(p.name for p in (ROOT / "specs").glob("*.py"))
SCHEDULES = [(spec_file, policy) for spec_file in SPEC_FILES for policy in violating_policies_of(spec_file)]


@pytest.mark.slow
@needs_linux
@needs_gcc
@pytest.mark.parametrize("spec_file, policy", SCHEDULES)
def test_every_counterexample_on_the_live_kernel(spec_file, policy, tmp_path):
    """Every scenario's counterexample under every policy that violates it, on this kernel."""
    result, detail, model = _live_agrees(spec_file, tmp_path, policy)
    if result == "unsupported":
        pytest.skip(f"{spec_file} under {policy}'s schedule: {detail}")


WHOLE_RUNS = [(spec_file, prop) for spec_file in SPEC_FILES
              for prop in load_spec(ROOT / "specs" / spec_file).invariants]


@pytest.mark.slow
@needs_linux
@needs_gcc
@pytest.mark.parametrize("spec_file, prop", WHOLE_RUNS)
def test_every_whole_run_on_the_live_kernel(spec_file, prop, tmp_path):
    """Every scripted scenario run whole in program order (no kernel event), each of its properties."""
    found = program_order(spec_file, prop)
    if found is None:
        pytest.skip(f"{spec_file}: an open world has no program order")
    record, model = found
    scenario, result, detail = compile_and_run(runner.c_reproducer(record), tmp_path, record["spec_id"])
    if result == "unsupported":
        pytest.skip(f"{spec_file} {prop}: {detail}")
    assert model is not None and result == model, f"{spec_file} {prop}: live {result} ({detail}), model {model}"


@needs_linux
@needs_gcc
def test_the_reproduce_command_runs_the_sweep_and_writes_its_table(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    out = tmp_path / "reproducers.md"
    code = main(["reproduce", "specs/c8_iouring_fork.py", "specs/o10_page_lock.py", "--out", str(out)])
    err = capsys.readouterr().err
    table = out.read_text()
    assert code == 0, err
    assert "| C8 | the counterexample of page_count | pin_coherent | holds | holds " in table
    assert "| O10-lock | the counterexample of" in table and "unsupported" in table
    assert "0 disagree" in err and f"wrote {out}" in err


def test_the_reproduce_command_refuses_a_bad_out_in_one_line(capsys):
    assert main(["reproduce", "--out", "/no/such/dir/x.md"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--out" in err
