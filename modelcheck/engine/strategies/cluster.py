"""Breadth-first search on a Dask cluster: the visited set partitioned by state hash across its workers.

Each Dask worker holds one actor, a ``ShardActor``, around a ``LevelWorker``
(the search of ``levels``, unchanged) owning the states whose fingerprint
falls in its partition, exactly as a process of ``parallel`` does. The driver
(this process) keeps the shards in step one depth level at a time, and a level
in rounds, so that what a shard holds for its peers stays bounded:

- ``expand(depth, chunks)``: the shard expands the next ``chunks`` batches of
  its frontier, admits the successors it owns and keeps the others in an outbox,
  one list of (fingerprints, packed states) per owner, plain bytes;
- ``settle(depth)``: the shard takes what each peer holds for it, straight from
  the peer's worker (``take``, a coroutine, so it is served while the peer's
  own thread is busy settling), and admits it.

A level ends when no shard has frontier left; the shards' reports then say
what the next level holds and what was found, and the driver stops there when a
run stops at the first violation, so the counts are those of whole levels. The
counterexample is rebuilt on the driver, as after any packed store, by
``levels.first_violations``: the same one a one-process search shows.

The model travels to the workers pickled by value (cloudpickle), so a cluster
needs modelcheck installed, not the spec file.
"""

from __future__ import annotations

import itertools
import pickle
import threading
import time
from typing import Any, Iterator, Sequence

from modelcheck.engine.errors import ClusterUnavailable, NotSearchable, StopReason, Stopped, WorkerFailed
from modelcheck.engine.model import Covered, Model
from modelcheck.engine.options import SearchOptions
from modelcheck.engine.progress import Progress
from modelcheck.engine.run import Run
from modelcheck.engine.strategies.levels import LevelWorker, gather_partitions, judge_level

ROUND_CHUNKS = 64  # frontier batches (of levels.BATCH states) a shard expands between two exchanges


class ShardActor:
    """One shard of the search, living on a Dask worker as an actor."""

    def __init__(self, model: bytes, options: SearchOptions, store: str, me: int, partitions: int,
                 seconds_left: float | None) -> None:
        self.model: Model = pickle.loads(model)
        self.run = Run(self.model, options, Progress(), "bfs")  # this shard's share of the run
        self.run.deadline = None if seconds_left is None else time.perf_counter() + seconds_left
        if options.max_memory is not None:  # the shards share the limit
            self.run.memory_limit = options.max_memory // partitions
        self.stop_asked = threading.Event()
        self.worker = LevelWorker(self.run, store, me=me, partitions=partitions, should_stop=self.stop_asked.is_set)
        self.me, self.partitions = me, partitions
        self.outbox: list[list[tuple[bytes, bytes]]] = [[] for _ in range(partitions)]
        self.pending: Iterator[bytes] = iter(())
        self.peers: Sequence[Any] = ()
        self.stopped: StopReason | None = None

    def _forward(self, owner: int, fps: bytes, packed: bytes) -> None:
        self.outbox[owner].append((fps, packed))

    def _report(self) -> tuple[int, int, int, int, StopReason | None]:
        w = self.worker
        return w.next_size, w.stored, w.transitions, len(w.found), self.stopped

    def meet(self, peers: Sequence[Any]) -> None:
        """The other shards' actors, to take forwarded states from."""
        self.peers = peers

    def seed(self, states: Sequence[Any]) -> tuple[int, int, int, int, StopReason | None]:
        try:
            self.worker.seed(list(states))
        except Stopped as s:
            self.stopped = s.reason
        return self._report()

    def start_level(self) -> int:
        """Begin expanding the level the last one made; the size of its frontier here."""
        self.stopped = None
        self.worker.start_level()
        self.pending = iter(self.worker.frontier)
        return self.worker.frontier_size

    def expand(self, depth: int, chunks: int = ROUND_CHUNKS) -> tuple[bool, int, StopReason | None]:
        """Expand the next ``chunks`` batches of the frontier: (frontier left, bytes held for peers, stop)."""
        self.outbox = [[] for _ in range(self.partitions)]
        more = False
        if self.stopped is None:
            take = list(itertools.islice(self.pending, chunks))
            more = len(take) == chunks
            self.worker.frontier = take
            try:
                self.worker.expand(depth, self._forward)
            except Stopped as s:  # the clock or the driver: a violation found lets the level finish
                self.stopped, more = s.reason, False
            except MemoryError:
                self.stopped, more = StopReason.OUT_OF_MEMORY, False
        held = sum(len(f) + len(p) for batches in self.outbox for f, p in batches)
        return more, held, self.stopped

    async def take(self, owner: int) -> list[tuple[bytes, bytes]]:
        """What this shard holds for ``owner`` (a coroutine: served while this shard's thread settles)."""
        batches, self.outbox[owner] = self.outbox[owner], []
        return batches

    def settle(self, depth: int) -> tuple[int, int, int, int, StopReason | None]:
        """Take in what the peers hold for this shard, from their workers, and admit it."""
        calls = [peer.take(self.me) for w, peer in enumerate(self.peers) if w != self.me]
        for call in calls:
            for fps, packed in call.result():
                self.worker.admit_packed(fps, packed, depth)
        return self._report()

    def admit(self, batches: list[tuple[bytes, bytes]], depth: int) -> tuple[int, int, int, int, StopReason | None]:
        """Admit batches the driver brought (routing through the driver, the alternative to ``settle``)."""
        for fps, packed in batches:
            self.worker.admit_packed(fps, packed, depth)
        return self._report()

    async def stop(self) -> None:
        """Ask the shard to end its round where it is (a coroutine: it arrives while the shard works)."""
        self.stop_asked.set()

    def final(self) -> tuple[list[Any], dict[str, int], set[str], int, int, bool]:
        w = self.worker
        covered = set(self.model.coverage_items(w.fired())) if isinstance(self.model, Covered) else set()
        return list(w.found.values()), dict(self.run.counters), covered, w.store_bytes, w.lookups, w.form is not None


def _gather(calls: list[Any]) -> list[Any]:
    """The results of calls made on every shard; a shard lost with its worker ends the run."""
    try:
        return [call.result() for call in calls]
    except (NotSearchable, ClusterUnavailable, WorkerFailed, MemoryError, Stopped):
        raise  # Stopped: the time limit's alarm, in this process
    except Exception as err:  # noqa: BLE001 - a shard's exception, or its worker gone: the run cannot go on
        cause = " ".join(str(err).split()) or type(err).__name__
        raise WorkerFailed(f"a Dask worker failed or was lost ({type(err).__name__}: {cause}); "
                           "the run cannot go on") from err


def search(model: Model, run: Run, store: str, route: str = "peers", chunks: int = ROUND_CHUNKS) -> None:
    """Search on the cluster ``run.options`` names, one shard per Dask worker. ``route`` is how forwarded
    states travel: "peers" (worker to worker) or "driver" (through this process; measured, not the default)."""
    import cloudpickle  # a dependency of Dask's: the model's classes may be made at run time

    from modelcheck.engine.cluster import cluster_client

    options, progress = run.options, run.progress
    shape: list[dict[str, int]] = []      # per level: its frontier, rounds, bytes shuffled between shards
    timings: list[dict[str, float]] = []  # per level: seconds expanding, exchanging, in all (a clock reading)
    with cluster_client(options.dask_workers, options.scheduler) as client:
        if options.dask_workers is not None:
            client.wait_for_workers(options.dask_workers)
        addresses = sorted(client.scheduler_info()["workers"])
        if not addresses:
            raise ClusterUnavailable(f"the Dask cluster at {options.scheduler!r} has no workers")
        partitions = len(addresses)
        blob = cloudpickle.dumps(model)
        seconds_left = None if run.deadline is None else max(0.001, run.deadline - time.perf_counter())
        futures = [client.submit(ShardActor, blob, options, store, w, partitions, seconds_left, actor=True,
                                 workers=[address], allow_other_workers=False, pure=False)
                   for w, address in enumerate(addresses)]
        shards = _gather(futures)
        _gather([s.meet(shards) for s in shards])
        initial = list(model.initial_states())

        stop_reason: StopReason | None = None
        interrupted: StopReason | None = None  # why this process asked the shards to stop
        level = 0

        def stop_all(reason: StopReason) -> None:
            nonlocal interrupted
            interrupted = reason
            _gather([s.stop() for s in shards])

        def rounds(calls: list[Any]) -> list[Any]:
            """Wait for a call on every shard; Ctrl-C (or a stop signal, or the time limit's alarm) asks the
            shards to stop where they are, and waits for them."""
            while True:
                try:
                    if interrupted is None and run.interrupt_requested():
                        stop_all(StopReason.INTERRUPTED)
                    return _gather(calls)
                except KeyboardInterrupt:
                    if interrupted is not None:
                        raise
                    stop_all(StopReason.INTERRUPTED)
                except Stopped as alarm:
                    if interrupted is not None:
                        raise
                    stop_all(alarm.reason)

        levels = rounds([s.seed(initial) for s in shards])
        while True:
            frontier, stop_reason = judge_level(run, level, (m[:5] for m in levels), interrupted)
            if stop_reason is not None or not frontier:
                break
            run.max_frontier = max(run.max_frontier, frontier)
            started = time.perf_counter()
            rounds([s.start_level() for s in shards])
            shuffled, expanding, exchanging, n = 0, 0.0, 0.0, 0
            while True:
                t0 = time.perf_counter()
                expanded = rounds([s.expand(level, chunks) for s in shards])
                t1 = time.perf_counter()
                shuffled += sum(e[1] for e in expanded)
                if route == "driver":
                    held = rounds([s.take(w) for w in range(partitions) for s in shards])
                    levels = rounds([s.admit([b for batches in held[w * partitions:(w + 1) * partitions]
                                              for b in batches], level + 1) for w, s in enumerate(shards)])
                else:
                    levels = rounds([s.settle(level + 1) for s in shards])
                t2 = time.perf_counter()
                expanding, exchanging, n = expanding + t1 - t0, exchanging + t2 - t1, n + 1
                progress.update(states=sum(m[1] for m in levels), transitions=sum(m[2] for m in levels),
                                frontier=frontier, depth=run.depth)
                if not any(e[0] for e in expanded):
                    break
            shape.append({"level": level, "frontier": frontier, "rounds": n, "shuffled_bytes": shuffled})
            timings.append({"expand": expanding, "exchange": exchanging, "level": time.perf_counter() - started})
            level += 1
        finals = rounds([s.final() for s in shards])
        del shards, futures
    run.figures["levels"], run.figures["level_seconds"] = shape, timings
    gather_partitions(run, store, partitions, finals)
    if stop_reason is not None:
        raise Stopped(stop_reason)
