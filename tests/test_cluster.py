"""Search on a Dask cluster, and matrix cells run on one: the same figures, verdicts and counterexamples as one
process; what cannot be a search on a cluster is a one-line usage error; a cluster that cannot be reached is
one line too."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

pytest.importorskip("distributed")

import cloudpickle  # noqa: E402

from modelcheck.cow import CowWorld  # noqa: E402
from modelcheck.cow.policies import policy_names  # noqa: E402
from modelcheck.engine import (ClusterUnavailable, SearchOptions, StopReason, Verdict, check,  # noqa: E402
                               cluster_client)
from modelcheck.faces.cli import main  # noqa: E402
from modelcheck.runner import run_cell  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
VMSPLICE = str(ROOT / "specs" / "vmsplice.py")
REFERENCE = str(ROOT / "specs" / "reference.py")
cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the workers need not import this file


@pytest.fixture(scope="module")
def scheduler():
    with cluster_client(workers=2) as client:
        yield client.scheduler.address


def _reference(point: tuple[int, int, int], policy: str):
    return CowWorld.reference(*point).model(policy, ["no_leak_across_fork"])


def _same_search(one, other) -> None:
    assert (one.verdict, one.stats.states, one.stats.transitions, one.stats.depth, one.stop) == \
        (other.verdict, other.stats.states, other.stats.transitions, other.stats.depth, other.stop)
    assert [(v.property, v.count, v.trace) for v in one.violations] == \
        [(v.property, v.count, v.trace) for v in other.violations]


@pytest.mark.parametrize("policy, store, stop", [("page_count", "compact", False), ("page_count", "fingerprint", False),
                                                 ("page_count", "compiled", False),
                                                 ("mapcount", "compact", True), ("mapcount", "compact", False)])
def test_a_search_on_two_shards_is_the_search_in_one_process(scheduler, policy, store, stop):
    serial = check(_reference((2, 2, 0), policy), SearchOptions(stop_at_first=stop, store=store))
    shared = check(_reference((2, 2, 0), policy), SearchOptions(stop_at_first=stop, store=store, scheduler=scheduler))
    _same_search(serial, shared)
    assert shared.figures["workers"] == 2 and shared.stats.states == (17_352 if policy == "page_count" else
                                                                       shared.stats.states)
    if policy == "mapcount":
        assert shared.verdict is Verdict.VIOLATED and len(shared.counterexample) == 5


def test_the_levels_say_what_was_shuffled_between_shards(scheduler):
    result = check(_reference((2, 2, 0), "page_count"), SearchOptions(stop_at_first=False, scheduler=scheduler))
    assert result.figures["store"] == "compiled"  # the shards run the compiled loops by default, as one process does
    levels = result.figures["levels"]
    assert [lv["level"] for lv in levels] == list(range(len(levels))) and len(levels) == result.stats.depth + 1
    assert sum(lv["frontier"] for lv in levels) == result.stats.states
    assert 0 < sum(lv["shuffled_bytes"] for lv in levels) < result.stats.transitions * 40  # rows + fingerprints
    assert len(result.figures["level_seconds"]) == len(levels)


def test_without_timing_the_json_has_the_levels_and_no_clock(scheduler, capsys):
    assert main([VMSPLICE, "--quiet", "--json", "--no-timing", "--policy", "mapcount", "--scheduler", scheduler]) == 0
    figures = json.loads(capsys.readouterr().out)["results"][0]["figures"]
    assert figures["levels"] and "level_seconds" not in figures and figures["workers"] == 2


def test_a_time_limit_ends_a_cluster_search_incomplete_never_holds(scheduler):
    result = check(_reference((2, 3, 0), "page_count"),
                   SearchOptions(stop_at_first=False, time_limit=1.0, scheduler=scheduler))
    assert result.verdict is Verdict.INCOMPLETE and result.stop is StopReason.TIME_LIMIT
    assert 0 < result.stats.states < 3_161_954


def test_small_rounds_change_nothing(scheduler, monkeypatch):
    """A level taken in many rounds of exchange (one batch of the frontier each) finds what one round finds."""
    from modelcheck.engine.strategies import cluster

    original = cluster.search
    monkeypatch.setattr(cluster, "search", lambda m, r, s: original(m, r, s, chunks=1))
    many = check(_reference((2, 2, 0), "page_count"), SearchOptions(stop_at_first=False, scheduler=scheduler))
    assert max(lv["rounds"] for lv in many.figures["levels"]) > 1
    _same_search(check(_reference((2, 2, 0), "page_count"), SearchOptions(stop_at_first=False)), many)


def test_the_command_line_on_a_local_cluster_prints_what_forked_workers_print(capsys):
    outputs = []
    for flags in (["--workers", "2"], ["--dask-workers", "2"]):
        assert main([VMSPLICE, "--quiet", "--no-timing", *flags]) == 0
        outputs.append(capsys.readouterr().out)
    assert outputs[0] == outputs[1] and "in 2 workers" in outputs[1]


@pytest.mark.parametrize("flags, says", [
    (["--dask-workers", "2", "--scheduler", "tcp://127.0.0.1:8786"], "not both"),
    (["--dask-workers", "2", "--workers", "2"], "choose one"),
    (["--scheduler", "tcp://127.0.0.1:8786", "--dfs"], "depth-first search does not run on a Dask cluster"),
    (["--dask-workers", "2", "--simulate"], "does not run on a Dask cluster"),
    (["--dask-workers", "2", "--store", "dict"], "needs a packed store"),
    (["--dask-workers", "2", "--checkpoint", "x.ck"], "cannot save or resume checkpoints"),
    (["--dask-workers", "0"], "--dask-workers must be at least 1"),
    (["--dask-workers", "100000"], "at most"),
    (["--scheduler", " "], "needs the address of a Dask scheduler"),
    (["--scheduler", "tcp://no:such:address"], "cannot reach the Dask scheduler"),
])
def test_what_cannot_be_a_search_on_a_cluster_is_a_usage_error(capsys, flags, says):
    assert main([VMSPLICE, "--quiet", *flags]) == 2
    err = capsys.readouterr().err
    assert says in err and err.count("\n") == 1 and "Traceback" not in err


def test_a_scheduler_nobody_runs_is_one_line():
    with pytest.raises(ClusterUnavailable, match="cannot reach the Dask scheduler at 'tcp://127.0.0.1:9'") as caught:
        with cluster_client(scheduler="tcp://127.0.0.1:9", timeout=0.5):
            pass
    assert "\n" not in str(caught.value)


def test_cluster_client_wants_one_of_workers_and_scheduler():
    for workers, scheduler in ((None, None), (2, "tcp://127.0.0.1:9")):
        with pytest.raises(ValueError, match="either"):
            with cluster_client(workers, scheduler):
                pass


def test_matrix_cells_on_the_cluster_are_the_cells_in_this_process(scheduler):
    from distributed import Client

    policies = ["mapcount", "page_count", "anon_exclusive"]
    here = [run_cell(VMSPLICE, policy) for policy in policies]
    with Client(scheduler) as client:
        there = client.gather([client.submit(run_cell, VMSPLICE, policy, pure=False) for policy in policies])
    assert there == here
    assert [cell["verdict"] for cell in here] == ["violated", "holds", "holds"] and here[0]["length"] == 5


def _dies_once(marker: str, spec: str, policy: str) -> dict:
    """A cell whose first attempt takes its worker down with it (as the kernel's OOM killer would)."""
    if not os.path.exists(marker):
        Path(marker).write_text("died")
        os._exit(1)
    return run_cell(spec, policy)


def test_a_cell_whose_worker_is_lost_is_run_again_not_counted(tmp_path):
    with cluster_client(workers=1) as client:
        cell = client.submit(_dies_once, str(tmp_path / "marker"), VMSPLICE, "mapcount", retries=1,
                             pure=False).result(timeout=120)
    assert (tmp_path / "marker").exists()
    assert cell == run_cell(VMSPLICE, "mapcount") and cell["verdict"] == "violated"


def test_importing_the_command_line_loads_no_dask():
    import subprocess

    code = ("import sys, modelcheck.faces.cli, modelcheck.runner; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed', 'cloudpickle')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


# -- one large search --------------------------------------------------------------------------------------------

@pytest.mark.slow
def test_a_search_of_three_million_states_on_two_dask_workers_counts_what_one_process_counts():
    """W(2,3,0) page_count, every state: the figures of the one-process search (46 s here), exactly."""
    result = check(_reference((2, 3, 0), "page_count"), SearchOptions(stop_at_first=False, dask_workers=2))
    assert (result.verdict, result.stats.states, result.stats.transitions, result.stats.depth) == \
        (Verdict.HOLDS, 3_161_954, 47_838_478, 20)


@pytest.mark.slow
def test_a_violating_search_on_two_dask_workers_shows_the_one_process_counterexample():
    serial = check(_reference((2, 3, 0), "mapcount"), SearchOptions(stop_at_first=False))
    shared = check(_reference((2, 3, 0), "mapcount"), SearchOptions(stop_at_first=False, dask_workers=2))
    _same_search(serial, shared)
    assert serial.stats.states == 354_218 and len(shared.counterexample) == 5


def test_a_night_on_a_cluster_started_apart_gives_the_counts_of_one_process(scheduler, tmp_path):
    """nightly --scheduler ADDRESS: the cells go to a cluster this command did not start, and come back as
    they would from this process."""
    spec = str(ROOT / "specs" / "c1_basic_cow.py")  # one rung: the night ends when every cell is done
    nights = {}
    for name, where in (("here", []), ("cluster", ["--scheduler", scheduler])):
        out = tmp_path / name
        assert main(["nightly", spec, "--out", str(out), "--budget", "10m", "--quiet", *where]) == 0
        nights[name] = json.loads((out / "latest.json").read_text())
    assert nights["cluster"]["executor"] == f"dask scheduler {scheduler}"
    cells = {name: {c["policy"]: (c["bound"], c["verdict"], c["states"], c["transitions"]) for c in night["cells"]}
             for name, night in nights.items()}
    assert cells["cluster"] == cells["here"] and len(cells["here"]) == len(policy_names())
