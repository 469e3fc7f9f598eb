"""The kernel's build configuration as a parameter of the world (``modelcheck.cow.config``).

The full kernel is the default and changes nothing (every spec's world has it
but C7-nosd's, and results/matrix.md, regenerated with the configuration in
place, kept every other cell: test_scenarios checks the committed matrix is
the generated one). Each switch is seen to act on one small scenario, what a
configuration cannot run is refused in one line, and the numpy batch form of
the open world is the per-state model's under every configuration.
"""

import dataclasses
import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from modelcheck.faces.cli import main
from modelcheck import runner
from modelcheck.cow import CowWorld, KernelConfig, WorldError
from modelcheck.cow import batch_scope
from modelcheck.cow.batch import ReferenceBatch
from modelcheck.cow.config import FULL_KERNEL, SWITCHES
from modelcheck.cow.policies import get_policy, policy_names
from modelcheck.engine.model import Batched
from modelcheck.spec import bind, load_spec, world_settings

ROOT = Path(__file__).resolve().parent.parent
SPECS = sorted((ROOT / "specs").glob("*.py"))
C7 = ["pin_rw a0 -> buf", "mprotect_ro a0", "clear_refs", "mprotect_rw a0", "store a0", "dma_read buf"]
WRITE_FAULTS = {"reuse", "copy"}


def run_through(world, policy, invariants=("pin_coherent", "no_lost_write")):
    """The branches of a one-thread scenario run to its end (each step has exactly one successor), and the
    state reached, as JSON."""
    model = world.model(policy, list(invariants))
    state, branches = model.initial_states()[0], []
    while successors := model.successors(state):
        ((act, state),) = successors
        branches.append(act.branch)
    return branches, model.state_to_json(state)


# -- the default --------------------------------------------------------------------------------------------------

def test_the_default_is_the_full_kernel():
    programs = {"parent": ["store a0", "clear_refs"]}
    assert CowWorld.scripted(programs) == CowWorld.scripted(programs, config=KernelConfig())
    assert CowWorld.scripted(programs).config == FULL_KERNEL and FULL_KERNEL.missing() == []
    assert CowWorld.reference(2, 1, 0).describe() == "W(2,1,0)"  # nothing said of the full kernel


@pytest.mark.parametrize("path", SPECS, ids=[p.stem for p in SPECS])
def test_every_spec_but_c7_nosd_is_of_the_full_kernel(path):
    loaded = bind(str(path), load_spec(str(path)), [])
    expected = KernelConfig(soft_dirty=False) if loaded.spec.id == "C7-nosd" else FULL_KERNEL
    assert loaded.world.config == expected
    assert world_settings(loaded.world)["kernel_config"] == expected.to_json()
    # (fresh: the untouched addresses; file and maps: the file the world maps, and where; cpus: threads pinned to
    # CPUs other than 0)
    assert set(world_settings(loaded.world)) <= {"kernel_config", "fresh", "file", "maps", "cpus"}


# -- soft-dirty -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("policy", policy_names())
def test_c7_takes_the_mprotect_upgrade_path_only_from_6_0_without_soft_dirty(policy):
    """With soft-dirty on, clear_refs cleans the PTE, so mprotect(RW) leaves it read-only and the store
    write-faults; off, a policy with 64fe24a3e05e maps the exclusive pinned page writable at once."""
    upgrades = "64fe24a3e05e" in get_policy(policy).commits
    on, _ = run_through(CowWorld.scripted({"parent": C7}), policy)
    off, _ = run_through(CowWorld.scripted({"parent": C7}, config=KernelConfig(soft_dirty=False)), policy)
    assert on[3] == off[3] if not upgrades else (on[3], off[3]) == ("mprotect_rw", "mprotect_upgrade")
    assert on[2].startswith("clear_refs") and off[2] == "clear_refs_untracked"
    if upgrades:
        assert on[4] in WRITE_FAULTS and off[4] == "write"  # the fault path, and none at all
    elif on[3] == "mprotect_rw" and on[4] != "write":  # (a policy that left the PTE writable never faults)
        assert on[4] == off[4] and on[4] in WRITE_FAULTS


def test_anon_exclusive_6_2_is_a_policy_that_upgrades():
    assert "64fe24a3e05e" in get_policy("anon_exclusive_6_2").commits


@pytest.mark.parametrize("policy", ["page_count", "anon_exclusive", "anon_exclusive_6_2"])
def test_c7_verdicts_are_the_same_on_both_paths(policy):
    """cow-history C7 (09854ba94c6a breaks it, 5.19 fixes it); without soft-dirty the fault the store takes
    is the mprotect(PROT_READ)'s, so the verdicts stand (spec C7-nosd)."""
    expected = {"page_count": False, "anon_exclusive": True, "anon_exclusive_6_2": True}[policy]
    for soft_dirty in (True, False):
        _, state = run_through(CowWorld.scripted({"parent": C7}, config=KernelConfig(soft_dirty=soft_dirty)),
                               policy)
        assert (state["holders"]["buf"] == state["processes"]["parent"]["pte"]["a0"]["page"]) is expected


def test_clear_refs_without_soft_dirty_changes_no_pte_and_asks_for_no_fault():
    """clear_refs_write accepts 4 and the walk leaves every PTE (clear_soft_dirty returns at once): a store
    after it through a writable PTE does not fault, and wrprotect_effective asks nothing of it."""
    world = CowWorld.scripted({"parent": ["clear_refs", "store a0"]}, config=KernelConfig(soft_dirty=False))
    model = world.model("page_count", ["wrprotect_effective"])
    start = model.initial_states()[0]
    ((act, after),) = model.successors(start)
    assert act.branch == "clear_refs_untracked"
    before_json, after_json = model.state_to_json(start), model.state_to_json(after)
    assert after_json["processes"] == before_json["processes"]
    assert after_json["processes"]["parent"]["pte"]["a0"]["writable"] is True
    branches, _ = run_through(world, "page_count", ("wrprotect_effective",))
    assert branches == ["clear_refs_untracked", "write"]
    on, _ = run_through(CowWorld.scripted({"parent": ["clear_refs", "store a0"]}), "page_count",
                        ("wrprotect_effective",))
    assert on == ["clear_refs", "reuse"]


def test_no_pte_is_soft_dirty_without_soft_dirty():
    branches, state = run_through(CowWorld.scripted({"parent": ["clear_refs", "store a0"]}), "page_count")
    assert state["processes"]["parent"]["pte"]["a0"].get("soft_dirty") is True
    _, state = run_through(CowWorld.scripted({"parent": ["clear_refs", "store a0"]},
                                             config=KernelConfig(soft_dirty=False)), "page_count")
    assert state["processes"]["parent"]["pte"]["a0"].get("soft_dirty") is False


# -- uffd-wp, swap, the swap-PTE exclusive bit -----------------------------------------------------------------

def test_uffd_wp_without_the_kernel_support_is_refused():
    with pytest.raises(WorldError, match="UFFDIO_REGISTER_MODE_WP fails with EINVAL"):
        CowWorld.scripted({"parent": ["uffd_wp a0", "store a0"]}, config=KernelConfig(uffd_wp=False))
    CowWorld.scripted({"parent": ["store a0"]}, config=KernelConfig(uffd_wp=False))  # nothing else is


def test_a_refusal_is_one_line_and_exit_status_2(tmp_path, capsys):
    spec = tmp_path / "uffd_off.py"
    spec.write_text("from modelcheck import Spec\nfrom modelcheck.cow import CowWorld, KernelConfig\n"
                    "SPEC = Spec(id='X', title='x', invariants=['no_lost_write'],\n"
                    "            world=lambda: CowWorld.scripted({'parent': ['uffd_unwp a0']},\n"
                    "                                            config=KernelConfig(uffd_wp=False)))\n")
    assert main([str(spec), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("modelcheck: ") and err.count("\n") == 1 and "Traceback" not in err
    assert main([str(ROOT / "specs" / "c7_iouring_mprotect.py"), "--quiet", "--param", "soft_dirty=maybe"]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_swap_events_without_swap_are_refused():
    with pytest.raises(WorldError, match="CONFIG_SWAP"):
        CowWorld.scripted({"parent": ["store a0"]}, events=["swap"], config=KernelConfig(swap=False))


@pytest.mark.parametrize("policy", ["page_count", "anon_exclusive"])
def test_pageout_without_swap_reclaims_nothing(policy):
    world = CowWorld.scripted({"parent": ["pageout a0", "store a0"]}, config=KernelConfig(swap=False))
    branches, state = run_through(world, policy)
    assert branches == ["pageout_no_swap", "write"]  # the page stayed mapped, writable: no fault
    assert state["processes"]["parent"]["pte"]["a0"] == {"page": 0, "writable": True}
    on, _ = run_through(CowWorld.scripted({"parent": ["pageout a0", "store a0"]}), policy)
    assert on[0] == "pageout" and on[1].startswith("swapin")


@pytest.mark.parametrize("policy", ["anon_exclusive", "anon_exclusive_6_2"])
def test_without_the_swap_pte_exclusive_bit_a_swapped_in_page_is_not_known_exclusive(policy):
    """A read fault maps the swap-cache page read-only; with the bit it is exclusive again (1493a1913e34),
    without it not, and a R/O pin then has to unshare it (the refcount test lets the page stay: P12)."""
    programs = {"parent": ["pageout a0", "load a0"]}
    _, with_bit = run_through(CowWorld.scripted(programs), policy)
    _, without = run_through(CowWorld.scripted(programs, config=KernelConfig(swap_pte_exclusive=False)), policy)
    assert with_bit["pages"]["0"]["exclusive"] is True and without["pages"]["0"]["exclusive"] is False
    pin = {"parent": ["pageout a0", "pin_ro a0 -> pin", "store a0", "dma_read pin"]}
    with_bit_branches, _ = run_through(CowWorld.scripted(pin), policy)
    without_branches, state = run_through(CowWorld.scripted(pin, config=KernelConfig(swap_pte_exclusive=False)),
                                          policy)
    assert with_bit_branches[1] == "swapin+gup" and without_branches[1] == "swapin+unshare_keep"
    assert state["holders"]["pin"] == state["processes"]["parent"]["pte"]["a0"]["page"]


def test_the_swap_pte_keeps_no_exclusive_mark_without_the_bit():
    world = CowWorld.scripted({"parent": ["pageout a0"]}, config=KernelConfig(swap_pte_exclusive=False))
    _, state = run_through(world, "anon_exclusive")
    assert state["processes"]["parent"]["pte"]["a0"] == {"swap": 0, "exclusive": False}
    _, state = run_through(CowWorld.scripted({"parent": ["pageout a0"]}), "anon_exclusive")
    assert state["processes"]["parent"]["pte"]["a0"] == {"swap": 0, "exclusive": True}


def test_a_configuration_is_true_or_false_and_says_what_it_lacks():
    with pytest.raises(ValueError, match="soft_dirty is true or false"):
        KernelConfig(soft_dirty=0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown switch"):
        KernelConfig.from_json({"thp": False})
    config = KernelConfig(soft_dirty=False, swap=False)
    assert config.missing() == [SWITCHES["soft_dirty"], SWITCHES["swap"]]
    assert KernelConfig.from_json(config.to_json()) == config
    assert config.source() == "KernelConfig(soft_dirty=False, swap=False)"
    assert "without CONFIG_MEM_SOFT_DIRTY" in CowWorld.scripted({"parent": C7}, config=config).describe()


# -- the batch form of the open world ------------------------------------------------------------------------------

@pytest.mark.parametrize("switch", sorted(SWITCHES))
def test_the_batch_form_is_the_models_under_every_switch(switch):
    from tests.test_batch import CHECKS, mismatches

    world = dataclasses.replace(CowWorld.reference(2, 1, 1), config=KernelConfig(**{switch: False}))
    for policy in ("page_count", "anon_exclusive_6_2"):
        model = world.model(policy, CHECKS)
        kernel = ReferenceBatch.for_model(model)
        assert isinstance(model, Batched) and kernel is not None
        assert mismatches(model, kernel) == [], (switch, policy)


def test_a_switch_the_batch_form_does_not_model_falls_back_to_the_per_state_path(monkeypatch):
    world = dataclasses.replace(CowWorld.reference(2, 1, 0), config=KernelConfig(soft_dirty=False))
    assert isinstance(world.model("page_count", ["no_leak_across_fork"]), Batched)
    monkeypatch.setattr(batch_scope, "CONFIG_INDIFFERENT", frozenset(SWITCHES) - {"soft_dirty"})
    model = world.model("page_count", ["no_leak_across_fork"])
    assert not isinstance(model, Batched) and ReferenceBatch.for_model(model) is None
    full = CowWorld.reference(2, 1, 0).model("page_count", ["no_leak_across_fork"])
    assert isinstance(full, Batched)  # the full kernel keeps it whatever the batch form models


# -- which path the running kernel takes ---------------------------------------------------------------------------

PROBE = r"""
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

static long minor_faults(void)
{
	struct rusage usage;

	getrusage(RUSAGE_SELF, &usage);
	return usage.ru_minflt;
}

static long faults_of_a_store(volatile char *at)
{
	long before = minor_faults();

	*at = 2;
	return minor_faults() - before;
}

int main(void)
{
	long page = sysconf(_SC_PAGESIZE);
	volatile char *area = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint64_t entry = 0;
	long fresh;
	int fd;

	if (area == MAP_FAILED || madvise((void *)area, 2 * page, MADV_NOHUGEPAGE))
		return 4;
	area[0] = 1;
	fd = open("/proc/self/pagemap", O_RDONLY);
	if (fd < 0 || pread(fd, &entry, sizeof(entry), (uintptr_t)area / page * sizeof(entry)) != sizeof(entry))
		return 4;
	close(fd);
	fresh = faults_of_a_store(area + page); /* the control: a first touch always faults */
	if (mprotect((void *)area, page, PROT_READ))
		return 4;
	fd = open("/proc/self/clear_refs", O_WRONLY);
	if (fd < 0 || write(fd, "4", 1) != 1)
		return 4;
	close(fd);
	if (mprotect((void *)area, page, PROT_READ | PROT_WRITE))
		return 4;
	printf("soft_dirty %d fresh %ld store %ld\n", (int)((entry >> 55) & 1), fresh, faults_of_a_store(area));
	return 0;
}
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="a Linux program")
@pytest.mark.skipif(shutil.which("gcc") is None and not os.environ.get("CI"),
                    reason="no gcc (.ci/run installs it: under CI this test runs)")
def test_the_running_kernel_takes_the_path_the_model_of_its_era_takes(tmp_path):
    """mprotect(PROT_READ), clear_refs, mprotect(PROT_READ|PROT_WRITE), store, on this kernel: whether the
    store faults (the minor-fault count) is what the era's model says of that scenario on a kernel with this
    kernel's soft-dirty tracking (a store through a writable PTE faults on no kernel, so a first touch is
    the control that the count sees faults)."""
    source, binary = tmp_path / "probe.c", tmp_path / "probe"
    source.write_text(PROBE)
    built = subprocess.run([shutil.which("gcc") or "gcc", "-Wall", "-Werror", "-O1", "-o", str(binary),
                            str(source)], capture_output=True, text=True)
    assert built.returncode == 0, built.stderr
    ran = subprocess.run([str(binary)], capture_output=True, text=True, timeout=30)
    if ran.returncode == 4:
        pytest.skip("the probe could not map, protect or write clear_refs here")
    tracked, fresh, store = (int(word) for word in ran.stdout.split()[1::2])
    assert fresh >= 1, ran.stdout
    era = runner.era_policy(platform.release())
    assert era is not None
    world = CowWorld.scripted({"parent": ["mprotect_ro a0", "clear_refs", "mprotect_rw a0", "store a0"]},
                              config=KernelConfig(soft_dirty=bool(tracked)))
    branches, _ = run_through(world, era)
    assert (branches[-1] != "write") == (store >= 1), (platform.release(), era, branches, ran.stdout)
