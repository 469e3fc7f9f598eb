"""Breadth-first search in several worker processes with a hash-partitioned store.

Each worker owns the states whose fingerprint falls in its partition: it alone
stores them, checks the invariants on them and expands them. A successor owned
by another worker is forwarded to it in batches (fingerprints and packed
states, plain bytes); the owner de-duplicates it. The parent only keeps the
workers in step, one depth level at a time, so that the first violation found
is still a shortest one.

The messages a worker sends and receives are the whole seam between workers:
``("states", fingerprints, packed)`` and ``("done", worker)`` to a peer, and
level reports (and progress figures within a level) to the parent. Another transport (a cluster scheduler) needs only
to carry those.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import signal
import time
import traceback
from typing import Any

from modelcheck.engine.checkpoint import CheckpointError
from modelcheck.engine.errors import StopReason, Stopped, WorkerFailed
from modelcheck.engine.model import Covered, Model
from modelcheck.engine.progress import Progress
from modelcheck.engine.run import Run
from modelcheck.engine.strategies.levels import LevelWorker, gather_partitions, judge_level

PROGRESS_EVERY = 0.5  # seconds between a worker's progress messages within a level


def _drain(worker: LevelWorker, inbox: Any, done: set[int], depth: int, block: bool) -> None:
    """Take in forwarded states; with ``block``, until every peer has said it is done with the level."""
    peers = worker.partitions - 1
    while True:
        if block and len(done) == peers:
            return
        try:
            message = inbox.get() if block else inbox.get_nowait()
        except queue.Empty:
            return
        if message[0] == "done":
            done.add(message[1])
        else:
            _, fps, packed = message
            worker.admit_packed(fps, packed, depth)


PR_SET_PDEATHSIG = 1  # prctl(2): the signal a process gets when its parent dies


def _die_with_parent(parent: int) -> None:
    """Make this worker end when its parent does, however the parent ends (SIGKILL included): on Linux the
    system sends SIGKILL (prctl PR_SET_PDEATHSIG); the command loop also looks at the parent's pid."""
    for number in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):  # the parent decides what these mean
        signal.signal(number, signal.SIG_IGN)
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the parent-pid check below and in the command loop
        pass
    if os.getppid() != parent:  # the parent died before the request took effect
        os._exit(1)


def _next_command(commands: Any, parent: int) -> Any:
    """The parent's next command; the worker ends if the parent is gone."""
    while True:
        try:
            return commands.get(timeout=1.0)
        except queue.Empty:
            if os.getppid() != parent:
                os._exit(1)


def _worker_main(me: int, model: Model, options: Any, store: str, inboxes: list, commands: Any,
                 reports: Any, stop: Any, deadline: float | None, parent: int, saved: Any = None) -> None:
    _die_with_parent(parent)
    partitions = len(inboxes)
    run = Run(model, options, Progress(), "bfs")  # this worker's share of the run, reported to the parent
    run.deadline = deadline
    if options.max_memory is not None:  # the workers share the limit
        run.memory_limit = options.max_memory // partitions
    worker = LevelWorker(run, store, me=me, partitions=partitions, should_stop=stop.is_set)
    inbox = inboxes[me]
    try:
        stopped: StopReason | None = None
        try:
            if saved is None:
                worker.seed(list(model.initial_states()))
            else:
                worker.restore(saved)
        except Stopped as s:
            stopped = s.reason
        worker.mark()
        reports.put(("level", me, worker.next_size, worker.stored, worker.transitions, len(worker.found), stopped))
        while True:
            command = _next_command(commands, parent)
            if command[0] == "finish":
                covered = model.coverage_items(worker.fired()) if isinstance(model, Covered) else set()
                reports.put(("final", me, list(worker.found.values()), dict(run.counters), set(covered),
                             worker.store_bytes, worker.lookups, worker.form is not None))
                return
            if command[0] == "snapshot":  # at the boundary the parent says: the last level ended everywhere
                if command[1]:
                    worker.mark()
                reports.put(("snapshot", me, worker.snapshot()))
                continue
            depth = command[1]
            worker.mark()  # every worker finished the level before: this is a boundary a checkpoint may save
            worker.start_level()
            done: set[int] = set()

            def forward(owner: int, fps: bytes, packed: bytes) -> None:
                inboxes[owner].put(("states", fps, packed))

            last_report = [time.perf_counter()]

            def between() -> None:
                _drain(worker, inbox, done, depth + 1, block=False)
                now = time.perf_counter()
                if now - last_report[0] >= PROGRESS_EVERY:  # for the progress bar, between level reports
                    last_report[0] = now
                    reports.put(("progress", me, worker.stored, worker.transitions))

            stopped = None
            try:
                worker.expand(depth, forward, between)
            except Stopped as s:  # the clock, or the parent's stop: a violation found lets the level finish
                stopped = s.reason
            except MemoryError:  # the allocator refused: end the run at this level, keeping what was found
                stopped = StopReason.OUT_OF_MEMORY
            for peer in range(partitions):
                if peer != me:
                    inboxes[peer].put(("done", me))
            _drain(worker, inbox, done, depth + 1, block=True)
            reports.put(("level", me, worker.next_size, worker.stored, worker.transitions, len(worker.found),
                         stopped))
    except BaseException:  # noqa: BLE001 - reported to the parent, which ends the run
        reports.put(("error", me, traceback.format_exc()))


def search(model: Model, run: Run, store: str) -> None:
    """Search with ``run.options.workers`` processes; the parent keeps them in step and gathers the result."""
    try:
        context = multiprocessing.get_context("fork")
    except ValueError:
        raise ValueError("several workers need processes started as copies of this one, "
                         "which this platform lacks") from None
    options, progress = run.options, run.progress
    partitions = options.workers
    inboxes = [context.Queue() for _ in range(partitions)]
    commands = [context.Queue() for _ in range(partitions)]
    reports = context.Queue()
    stop = context.Event()
    saved = run.resumed("parallel")
    if saved is not None and len(saved["workers"]) != partitions:
        raise CheckpointError(f"the checkpoint was saved by {len(saved['workers'])} workers, not {partitions}")
    processes = [context.Process(target=_worker_main, daemon=True, name=f"modelcheck-worker-{w}",
                                 args=(w, model, options, store, inboxes, commands[w], reports, stop, run.deadline,
                                       os.getpid(), None if saved is None else saved["workers"][w]))
                 for w in range(partitions)]
    for p in processes:
        p.start()

    interrupted = False
    stop_reason: StopReason | None = None
    level = 0 if saved is None else saved["level"]
    mark = (level, run.depth, run.states)  # the boundary the workers last marked, with its figures
    figures = [(0, 0)] * partitions  # (stored, transitions) per worker, as last reported
    frontier_now = 0

    def gather(kind: str) -> list[tuple]:
        nonlocal interrupted
        got: list[tuple] = []
        while len(got) < partitions:
            if not interrupted and run.interrupt_requested():  # a stop signal: save at the last boundary
                interrupted = True
                stop.set()
            try:
                message = reports.get(timeout=1.0)
            except KeyboardInterrupt:
                interrupted = True
                stop.set()
                continue
            except queue.Empty:  # a worker killed from outside (out of memory) never reports
                dead = [f"worker {w} (exit status {p.exitcode})" for w, p in enumerate(processes)
                        if p.exitcode not in (None, 0)]
                if dead:
                    raise WorkerFailed(f"{', '.join(dead)} ended without reporting; the run cannot go on") from None
                continue
            if message[0] == "error":  # the first line says why (the exception), the traceback follows
                cause = message[2].strip().splitlines()[-1] if message[2].strip() else "no traceback"
                raise WorkerFailed(f"worker {message[1]} failed: {cause}\n{message[2]}")
            if message[0] == "progress":
                figures[message[1]] = message[2:]
                progress.update(states=sum(f[0] for f in figures), transitions=sum(f[1] for f in figures),
                                frontier=frontier_now, depth=run.depth)
                continue
            if message[0] != kind:
                raise WorkerFailed(f"unexpected message {message[0]!r} from worker {message[1]}")
            if kind == "level":
                figures[message[1]] = (message[3], message[4])
            got.append(message)
        return got

    def save(level: int, depth: int, states: int, fresh: bool) -> None:
        """Save the workers at a level boundary: this one (``fresh``) or the one they last marked."""
        for c in commands:
            c.put(("snapshot", fresh))
        parts = sorted(gather("snapshot"), key=lambda m: m[1])
        now = run.depth, run.states
        run.depth, run.states = depth, states  # the figures of the boundary saved
        run.save("parallel", {"level": level, "workers": [m[2] for m in parts]})
        run.depth, run.states = now

    finals: list[tuple] | None = None
    try:
        levels = gather("level")
        while True:
            frontier, stop_reason = judge_level(run, level, (m[2:7] for m in levels),
                                                StopReason.INTERRUPTED if interrupted else None)
            if stop_reason is not None or not frontier:
                break
            if run.checkpoint_due():
                save(level, run.depth, run.states, fresh=True)
            mark = (level, run.depth, run.states)
            run.max_frontier = max(run.max_frontier, frontier)
            frontier_now = frontier
            for c in commands:
                c.put(("level", level))
            levels = gather("level")
            level += 1
        if run.checkpoints is not None and stop_reason in (StopReason.INTERRUPTED, StopReason.TIME_LIMIT):
            save(*mark, fresh=False)
        for c in commands:
            c.put(("finish",))
        finals = gather("final")
    finally:
        for p in processes:  # workers ignore SIGTERM (the parent decides what it means): SIGKILL
            if finals is None:  # the run failed: nobody is waiting for what the workers hold
                p.kill()
            p.join(timeout=5)
            if p.is_alive():
                p.kill()
                p.join(timeout=5)
    gather_partitions(run, store, partitions, (m[2:8] for m in finals))
    if stop_reason is not None:
        raise Stopped(stop_reason)
