"""Signals end a run as Ctrl-C does, workers die with their parent, and worker failures say why."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from modelcheck.engine import SearchOptions, WorkerFailed, check
from modelcheck.faces.cli import main
from tests.toy_models import NaiveLock

ROOT = Path(__file__).resolve().parents[1]
VMSPLICE = str(ROOT / "specs" / "vmsplice.py")
# W(2,2,1) page_count, every state: about 18 s over the dict store, 6 s with two workers
LONG = [str(ROOT / "specs" / "reference.py"), "--param", "P=2", "--param", "M=2", "--param", "S=1",
        "--policy", "page_count", "--no-stop", "--quiet"]


def start(*argv):
    return subprocess.Popen([sys.executable, "-m", "modelcheck", *argv], cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def children(pid):
    """The processes whose parent is ``pid``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def alive(pid):
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has ended


def catches(pid, number):
    """The process has a handler of its own for signal ``number`` (SigCgt in /proc/PID/status)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    mask = next((int(line.split()[1], 16) for line in status.splitlines() if line.startswith("SigCgt:")), 0)
    return bool(mask >> (number - 1) & 1)


@pytest.mark.parametrize("number", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT], ids=lambda n: n.name)
def test_a_stop_signal_ends_the_run_like_ctrl_c(number):
    proc = start(*LONG, "--store", "dict")
    # the run handles the stop signals once it has started (SIGTERM's handler is the CLI's, set with the others):
    # on a loaded machine the interpreter's start-up alone can take longer than any fixed wait
    deadline = time.monotonic() + 60
    while Path("/proc/self/status").exists() and not catches(proc.pid, signal.SIGTERM) \
            and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(1.0)
    proc.send_signal(number)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 3, err
    assert "page_count" in out and "incomplete" in out
    assert "interrupted: " in err and " states explored" in err and "Traceback" not in err


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc to find the workers")
def test_workers_die_with_their_parent_even_by_sigkill():
    proc = start(*LONG, "--workers", "2")
    deadline = time.monotonic() + 20
    workers: list[int] = []
    while len(workers) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
        workers = children(proc.pid)
    assert len(workers) >= 2, "the workers did not start"
    time.sleep(0.5)
    proc.kill()
    proc.wait(timeout=10)
    deadline = time.monotonic() + 10
    while any(alive(w) for w in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    survivors = [w for w in workers if alive(w)]
    for w in survivors:  # do not leave them behind if the test fails
        os.kill(w, signal.SIGKILL)
    assert not survivors


class FailsAt(NaiveLock):
    def __init__(self, error):
        super().__init__()
        self.error = error

    def successors(self, s):
        if s == (1, 0, 0):
            raise self.error
        return super().successors(s)


def test_a_worker_failure_says_what_failed_on_its_first_line():
    with pytest.raises(WorkerFailed) as failed:
        check(FailsAt(RuntimeError("the model broke at (1, 0, 0)")),
              SearchOptions(store="compact", workers=2, stop_at_first=False))
    first = str(failed.value).splitlines()[0]
    assert first.startswith("worker ") and first.endswith(" failed: RuntimeError: the model broke at (1, 0, 0)")


def test_a_worker_the_allocator_refuses_ends_the_run_as_out_of_memory_with_its_figures():
    result = check(FailsAt(MemoryError("no room")), SearchOptions(store="compact", workers=2, stop_at_first=False))
    assert result.verdict.value == "incomplete" and result.stop.value == "out of memory"
    assert result.stats.states > 0 and "out of memory: the allocator refused" in result.incomplete_reason


@pytest.mark.parametrize("workers", ["200", "1000"])
def test_more_workers_than_the_machine_runs_is_a_usage_error(workers, capsys):
    assert main([VMSPLICE, "--workers", workers]) == 2
    err = capsys.readouterr().err
    assert f"workers must be at most" in err and f"not {workers}" in err and err.count("\n") == 1
