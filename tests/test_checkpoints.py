"""Checkpoints: a search saved anywhere it saves itself, and resumed, ends as the search run in one go."""

import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from modelcheck.cow import CowWorld
from modelcheck.engine import Checkpoints, SearchOptions, check
from modelcheck.engine.strategies import explicit
from modelcheck.faces.cli import main
from tests.toy_models import NaiveLock

ROOT = Path(__file__).resolve().parents[1]
VMSPLICE = str(ROOT / "specs" / "vmsplice.py")
REFERENCE = str(ROOT / "specs" / "reference.py")
BACKENDS = [dict(store="dict"), dict(store="compact"), dict(store="compiled"), dict(store="fingerprint"), dict(workers=2),
            dict(workers=2, store="fingerprint")]


def outcome(result):
    """Everything a resumed run must reproduce (not the seconds)."""
    return (result.verdict, result.stop, result.stats.states, result.stats.transitions, result.stats.depth,
            result.stats.max_frontier, dict(result.counts), result.covered,
            [(v.property, v.count, v.trace) for v in result.violations])


def snapshots(model, options):
    """Every snapshot a run saves when it saves at every chance (pickled as a file would hold them)."""
    saved = []
    result = check(model, options, checkpoints=Checkpoints(save=lambda s: saved.append(pickle.dumps(s)),
                                                           every=1e-9))
    return result, saved


@pytest.mark.parametrize("config", BACKENDS, ids=lambda c: "-".join(f"{v}" for v in c.values()))
@pytest.mark.parametrize("policy, stop", [("mapcount", True), ("mapcount", False), ("page_count", False)])
def test_resuming_any_snapshot_ends_as_the_run_in_one_go(config, policy, stop, monkeypatch):
    monkeypatch.setattr(explicit, "CHECK_EVERY", 7 if stop else 512)  # the dict search saves between expansions
    model = CowWorld.reference(2, 2, 0).model(policy, ["no_leak_across_fork"])
    options = SearchOptions(stop_at_first=stop, **config)
    whole = check(model, options)
    result, saved = snapshots(model, options)
    assert outcome(result) == outcome(whole)
    assert len(saved) >= 3
    picks = sorted({0, 1, len(saved) // 2, len(saved) - 1})
    for n in picks:
        resumed = check(model, options, checkpoints=Checkpoints(save=lambda s: None, resumed=pickle.loads(saved[n])))
        assert outcome(resumed) == outcome(whole), (n, len(saved))


@pytest.mark.parametrize("config", BACKENDS, ids=lambda c: "-".join(f"{v}" for v in c.values()))
def test_a_stop_request_saves_where_the_search_is_and_resumes_to_the_same_end(config):
    model = CowWorld.reference(2, 2, 0).model("page_count", ["no_leak_across_fork"])
    options = SearchOptions(stop_at_first=False, **config)
    whole = check(model, options)
    saved = []
    asked = [0]

    def requested():  # a signal arrives after a while
        asked[0] += 1
        return asked[0] > 5

    stopped = check(model, options, checkpoints=Checkpoints(save=lambda s: saved.append(pickle.dumps(s)),
                                                            every=3600, requested=requested))
    assert stopped.interrupted and saved
    resumed = check(model, options, checkpoints=Checkpoints(save=lambda s: None, resumed=pickle.loads(saved[-1])))
    assert outcome(resumed) == outcome(whole)


def test_toy_models_resume_too(monkeypatch):
    monkeypatch.setattr(explicit, "CHECK_EVERY", 1)
    for model in (NaiveLock(), NaiveLock(atomic=True)):
        for config in BACKENDS:
            options = SearchOptions(stop_at_first=False, **config)
            whole = check(model, options)
            _, saved = snapshots(model, options)
            for snapshot in saved:
                resumed = check(model, options, checkpoints=Checkpoints(save=lambda s: None,
                                                                        resumed=pickle.loads(snapshot)))
                assert outcome(resumed) == outcome(whole)


@pytest.mark.parametrize("strategy", ["dfs", "dpor", "simulate", "bmc"])
def test_strategies_that_cannot_checkpoint_refuse_in_one_line(strategy, capsys, tmp_path):
    flag = ["--engine", "bmc", "--depth", "3"] if strategy == "bmc" else [f"--{strategy}"]
    for option in ("--checkpoint", "--resume"):
        assert main([VMSPLICE, *flag, option, str(tmp_path / "c"), "--quiet"]) == 2
        err = capsys.readouterr().err
        assert "cannot save or resume checkpoints" in err and err.count("\n") == 1


# -- through the command line ---------------------------------------------------------------------------

W311 = [REFERENCE, "--param", "P=3", "--param", "M=1", "--param", "S=1", "--policy", "mapcount",
        "--policy", "page_count", "--no-stop", "--quiet"]
# long enough (2-9 s) that a signal sent after the first checkpoint finds the search under way
W312 = [REFERENCE, "--param", "P=3", "--param", "M=1", "--param", "S=2", "--policy", "mapcount",
        "--policy", "page_count", "--no-stop", "--quiet"]


def text(stdout):
    """The report less what differs between runs (seconds, states/s, the store lines)."""
    lines = []
    for line in stdout.split("\nstores:\n")[0].splitlines():
        parts = line.split()
        if len(parts) >= 8 and parts[1] in ("holds", "violated", "incomplete"):
            line = " ".join(parts[:-2])
        lines.append(line)
    return "\n".join(lines)


def run_cli(*argv, timeout=300):
    return subprocess.run([sys.executable, "-m", "modelcheck", *argv], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout)


def stop_and_resume(tmp_path, backend, number, after, world=W311):
    """Start, wait for the first checkpoint, send ``number`` ``after`` seconds later, resume: the return code of
    the stopped run and the resumed run's output."""
    ck = tmp_path / "run.ck"
    ck.unlink(missing_ok=True)
    proc = subprocess.Popen([sys.executable, "-m", "modelcheck", *world, *backend, "--checkpoint", str(ck),
                             "--checkpoint-every", "0.2s"], cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while not ck.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert ck.exists(), "no checkpoint was written"
    time.sleep(after)
    proc.send_signal(number)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode in (0, 3, -signal.SIGKILL), err
    if proc.returncode == 3:
        assert "interrupted: " in err
    resumed = run_cli(*world, *backend, "--resume", str(ck))
    assert resumed.returncode == 0, resumed.stderr
    return proc.returncode, text(resumed.stdout)


@pytest.mark.parametrize("backend", [["--store", "dict"], ["--store", "compact"], ["--workers", "2"]],
                         ids=["dict", "compact", "workers2"])
def test_sigterm_saves_and_resume_ends_as_the_run_in_one_go(tmp_path, backend):
    whole = text(run_cli(*W312, *backend).stdout)
    assert "counterexample of" in whole
    assert stop_and_resume(tmp_path, backend, signal.SIGTERM, 0.3, W312) == (3, whole)  # stopped under way
    assert stop_and_resume(tmp_path, backend, signal.SIGKILL, 0.5, W312) == (-signal.SIGKILL, whole)


def test_a_damaged_truncated_or_other_checkpoint_is_refused_in_one_line(tmp_path, capsys):
    ck = tmp_path / "good.ck"
    args = [VMSPLICE, "--policy", "mapcount", "--quiet"]
    assert main([*args, "--checkpoint", str(ck)]) == 0
    capsys.readouterr()
    data = ck.read_bytes()
    bad = {"truncated": data[:len(data) // 2], "damaged": data[:-10] + bytes(10), "empty": b"",
           "foreign": b"not a checkpoint at all"}
    for name, content in bad.items():
        (tmp_path / name).write_bytes(content)
    cases = [([*args, "--resume", str(tmp_path / name)], msg) for name, msg in
             [("truncated", "truncated"), ("damaged", "damaged"), ("empty", "not a modelcheck checkpoint"),
              ("foreign", "not a modelcheck checkpoint")]]
    cases += [
        ([*args, "--resume", str(tmp_path / "missing")], "cannot read the checkpoint"),
        ([VMSPLICE, "--policy", "page_count", "--quiet", "--resume", str(ck)], "policies was ['mapcount']"),
        ([*args, "--param", "M=2", "--resume", str(ck)], "parameters was"),
        ([*args, "--store", "fingerprint", "--resume", str(ck)], "store was None"),
        ([*args, "--no-stop", "--resume", str(ck)], "stop at the first violation was True"),
        ([REFERENCE, "--policy", "mapcount", "--quiet", "--resume", str(ck)], "spec file content was"),
        ([*args, "--checkpoint", str(tmp_path / "no" / "such" / "dir")], "cannot write the checkpoint"),
        ([*args, "--checkpoint", str(ck), "--checkpoint-every", "0"], "checkpoint_every must be positive"),
        ([*args, "--checkpoint", str(ck), "--checkpoint-every", "soon"], "not a duration"),
    ]
    for argv, message in cases:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1 and "Traceback" not in err, (argv, err)
    assert main([*args, "--resume", str(ck)]) == 0  # the good one still resumes (a finished run: its result)
    assert "counterexample of 5 steps" in capsys.readouterr().out


@pytest.mark.slow
def test_sigkill_at_random_points_then_resume(tmp_path):
    import random

    rng = random.Random(12)
    backends = [["--store", "dict"], ["--store", "compact"], ["--store", "fingerprint"], ["--workers", "2"],
                ["--workers", "2", "--store", "fingerprint"]]
    wholes = {tuple(b): text(run_cli(*W311, *b).stdout) for b in backends}
    for n in range(20):
        backend = backends[n % len(backends)]
        assert stop_and_resume(tmp_path, backend, signal.SIGKILL, rng.uniform(0.0, 1.5))[1] == wholes[tuple(backend)]
