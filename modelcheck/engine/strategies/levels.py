"""Breadth-first search one depth level at a time, over a packed store (the ``bfs`` strategy's backend).

The frontier of a level is kept as packed bytes, successors are looked up in
the store a batch at a time, and no back-pointers are kept: a counterexample is
rebuilt afterwards by searching again, with an exact store, from the initial
states (as TLC and Stateright do for fingerprint stores). The search again goes
in the order a one-process search over the dict store goes and reports the
first violation of each property of the length found, so every store and every
number of workers shows the same counterexample.

Stopping at the first violation stops at the end of the level it was found in:
the counts are then those of whole levels, the same for every store and number
of workers.

A ``LevelWorker`` owns one hash partition of the state space; a single process
is one worker owning everything, and ``parallel`` runs several that forward the
successors they do not own to their owners.
"""

from __future__ import annotations

import itertools
import struct
import subprocess
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from modelcheck.engine.errors import NotSearchable, StopReason, Stopped
from modelcheck.engine.model import Invariant, Model, TransitionCheck, batch_form
from modelcheck.engine.pipeline import Pipeline
from modelcheck.engine.run import Run
from modelcheck.engine.stores import STORES, fingerprints, miss_probability, owner_of
from modelcheck.engine.strategies.explicit import stop_after_level
from modelcheck.engine.traces import counterexample, explain

BATCH = 4096  # successors looked up in the store at once


@dataclass
class Found:
    """Violations of one property as a worker saw them: how many, and the length of the shortest (the
    counterexample is rebuilt from that length, the same whichever worker saw it)."""

    name: str
    count: int
    length: int


class LevelWorker:
    """Expands the frontier it owns; admits the successors it owns into its store."""

    def __init__(self, run: Run, store: str, me: int = 0, partitions: int = 1,
                 should_stop: Callable[[], bool] = lambda: False) -> None:
        self.run = run
        self.model = run.model
        self.me, self.partitions = me, partitions
        self.should_stop = should_stop
        self.pipeline = Pipeline(run)
        self.canonical = self.pipeline.canonical
        self.store_class = STORES[store]
        # a store may fingerprint rows its own way, to the same values (the compiled store's loop)
        self.row_fingerprints = self.store_class.fingerprint_rows
        self.fingerprints_only = not self.store_class.exact
        self.logged = not self.fingerprints_only  # the store keeps every state in a log
        self.store: Any = None  # opened by ``seed``, when the width of a state is known
        self.row: Any = None    # struct.Struct of a packed state, likewise
        # packed states of the level being expanded, and of the next; a compact store's log holds
        # them already, in the order they were stored, so there the frontier is a range of the log
        self.frontier: Iterable[Any] = []  # bytes, or arrays of packed rows
        self.next: list[bytes] = []
        self.next_from = 0
        self.frontier_size = 0
        self.next_size = 0
        self.found: dict[str, Found] = {}
        # a model may offer its successors a batch of states at a time, as array operations (``Batched``);
        # used when it judges every transition property the model has
        self.form: Any = None
        form = batch_form(self.model, self.canonical is not None, self.store_class.compiled)
        if form is not None and {c.name for c in run.checks} <= form.checks:
            self.form = form
        self.fired_ids: set[int] = set()
        self.fired_before: list[Any] = []  # actions that fired before the checkpoint this run resumes
        self.boundary: dict[str, Any] = {}  # the last level boundary, as a checkpoint saves it (``mark``)
        self.in_level = False

    # -- set-up ---------------------------------------------------------------------
    def _open_store(self, width: int) -> None:
        self.row = struct.Struct(f"{width}H")
        self.store = self.store_class.opened(self.row.size)
        self.store.budget = self.run.memory_limit

    def pack(self, states: list[Any]) -> bytes:
        try:
            return b"".join(itertools.starmap(self.row.pack, states))
        except struct.error as err:
            raise NotSearchable("a compact store needs every state to be a flat tuple of ints in 0..65535 "
                             f"of one length ({err}); use --store dict") from None

    def unpack(self, data: bytes) -> Iterable[tuple]:
        return self.row.iter_unpack(data)

    def fingerprints(self, states: list[Any]) -> np.ndarray:
        """One fingerprint function per run: rows' when a batch form makes the states, else Python's hash."""
        if self.form is not None:
            return self.row_fingerprints(np.array(states, dtype=np.int64).reshape(len(states), -1))
        return fingerprints([hash(s) for s in states])

    def fired(self) -> list[Any]:
        """The distinct actions that fired (coverage)."""
        if self.form is not None:
            return list(dict.fromkeys(self.fired_before + [self.form.actions[i] for i in sorted(self.fired_ids)]))
        return list(self.run.fired)

    def owners(self, fps: np.ndarray) -> np.ndarray | None:
        return owner_of(fps, self.partitions) if self.partitions > 1 else None

    # -- admitting states -------------------------------------------------------------
    def admit(self, states: list[Any] | None, fps: np.ndarray, packed: Any, depth: int) -> int:
        """Store the states not seen before, check the invariants on them, queue them for expansion.

        ``packed`` may be None for a fingerprint store, which needs the bytes of new states only.
        """
        new = self.store.insert(fps, packed)
        fresh = np.flatnonzero(new)
        if not fresh.size:
            return 0
        picked = fresh.tolist()
        if not self.logged:
            if packed is None:
                assert states is not None  # a batch comes as states or as packed rows
                self.next.append(self.pack([states[i] for i in picked]))
            else:
                self.next.append(self._rows(packed)[fresh].tobytes())
        self.next_size += len(picked)
        if self.pipeline.invariants:
            for i in picked:
                state = states[i] if states is not None else self.row.unpack_from(packed, i * self.row.size)
                for inv in self.pipeline.broken_invariants(state):
                    self.violation(inv.name, 1, depth)
        return len(picked)

    def admit_packed(self, fps_bytes: bytes, packed: bytes, depth: int) -> int:
        """Admit states another worker forwarded (already fingerprinted and packed)."""
        return self.admit(None, np.frombuffer(fps_bytes, dtype=np.uint64), packed, depth)

    def seed(self, states: list[Any]) -> None:
        """The initial states this worker owns (every worker is handed all of them)."""
        if self.canonical is not None:
            states = [self.canonical(s) for s in states]
        if not all(isinstance(s, tuple) for s in states):
            raise ValueError("a compact store needs every state to be a flat tuple of ints in 0..65535")
        self._open_store(len(states[0]))
        if self.form is not None and self.partitions == 1:
            self._compile_ahead()
        self._dispatch(self.fingerprints(states), states, self._rows(self.pack(states)), 0, lambda *_: None)

    def _compile_ahead(self) -> None:
        """Where the store has code to compile (a cold cache), it compiles in another process while this one
        compiles the batch form's, by expanding no states; workers each compile their own."""
        aside = self.store_class.compile_aside(self.row.size)
        if aside is None:
            return
        try:
            self.form.expand(np.zeros((0, self.row.size // 2), dtype=np.uint16))
        finally:
            try:
                aside.wait(timeout=600)
            except subprocess.TimeoutExpired:  # (the run's first calls compile what it has not)
                aside.kill()

    def violation(self, name: str, count: int, length: int) -> None:
        """Count a violation; the level is still finished (the caller stops at its end, if it stops)."""
        seen = self.found.get(name)
        if seen is None:
            self.found[name] = Found(name, count, length)
        else:
            seen.count += count
            seen.length = min(seen.length, length)

    # -- checkpoints ------------------------------------------------------------------
    def mark(self) -> None:
        """Remember the figures at a level boundary (before ``start_level``): a checkpoint taken later in the
        level saves this boundary, the store without the states stored since."""
        run = self.run
        self.boundary = {
            "transitions": run.transitions, "counters": dict(run.counters),
            "found": {name: Found(f.name, f.count, f.length) for name, f in self.found.items()},
            "fired": self.fired(),
            "lookups": self.lookups, "next_from": self.next_from, "next_size": self.next_size,
            "log_count": self.store.log.count if self.logged and self.store is not None else 0,
            "frontier": None if self.logged else self.next}
        self.in_level = False

    def snapshot(self) -> dict[str, Any]:
        """This worker at its last level boundary: its store, the frontier to expand, its figures."""
        b = self.boundary
        data = {key: b[key] for key in ("transitions", "counters", "found", "fired", "next_from", "next_size",
                                        "frontier")}
        data["width"] = self.row.size // 2 if self.row is not None else None
        if self.store is None:
            data["store"] = None
        elif self.logged:
            data["store"] = self.store.saved(b["log_count"], b["lookups"])
        else:
            later = self._fingerprints_of(self.next) if self.in_level else None
            data["store"] = self.store.saved(later, b["lookups"])
        return data

    def restore(self, data: dict[str, Any]) -> None:
        """Continue from a snapshot (instead of ``seed``)."""
        if data["width"] is not None:
            self._open_store(data["width"])
            self.store = self.store_class.restored(self.row.size, data["store"])
        self.run.transitions = data["transitions"]
        self.run.counters.update(data["counters"])
        self.found = {name: Found(f.name, f.count, f.length) for name, f in data["found"].items()}
        if self.form is not None:  # its action numbers are its own: the actions are kept as they are
            self.fired_before = list(data["fired"])
        else:
            self.pipeline.restore_fired(data["fired"])
        self.next_from, self.next_size = data["next_from"], data["next_size"]
        self.next = list(data["frontier"] or [])
        self.mark()

    def _fingerprints_of(self, chunks: list[bytes]) -> np.ndarray:
        """The fingerprints of packed states, as they were computed when the states were stored."""
        if not chunks:
            return np.zeros(0, dtype=np.uint64)
        data = b"".join(chunks)
        if self.form is not None:
            return self.row_fingerprints(np.frombuffer(data, dtype=np.uint16).reshape(-1, self.row.size // 2))
        return fingerprints([hash(state) for state in self.unpack(data)])

    # -- expanding a level -------------------------------------------------------------
    def start_level(self) -> None:
        self.in_level = True
        if self.logged and self.store is not None:
            self.frontier = self._log_chunks(self.next_from, self.store.log.count)
            self.next_from = self.store.log.count
        else:
            self.frontier, self.next = self.next, []
        self.frontier_size, self.next_size = self.next_size, 0

    def _log_chunks(self, start: int, end: int) -> Iterable[np.ndarray]:
        """The packed states start..end of the store's log, a batch at a time (copies: the log may grow
        while they are expanded)."""
        log = self.store.log
        for at in range(start, end, BATCH):
            yield log.span(at, min(at + BATCH, end))

    def expand(self, depth: int, forward: Callable[[int, bytes, bytes], None] | None = None,
               between: Callable[[], None] = lambda: None) -> None:
        """Expand every state of the frontier (at ``depth``), admitting or forwarding each successor.

        ``forward(owner, fingerprints, packed)`` sends a batch to another
        worker; ``between`` runs after each batch (to take in forwarded ones).
        """
        if self.form is not None:
            self._expand_batches(depth, forward, between)
            return
        transitions = self.pipeline.transitions
        batch: list[Any] = []
        frontier, self.frontier = self.frontier, []
        for chunk in frontier:
            for state in self.unpack(chunk):
                for action, after, key, broken in transitions(state):
                    for check in broken:
                        self.violation(check.name, 1, depth + 1)
                    batch.append(key)
                if len(batch) >= BATCH:
                    self._route(batch, depth + 1, forward)
                    batch = []
                    between()
                    self._check_limits()
        if batch:
            self._route(batch, depth + 1, forward)

    def _expand_batches(self, depth: int, forward, between: Callable[[], None]) -> None:
        """Expand the frontier with the model's batch form: no Python object per transition."""
        form, width = self.form, self.row.size // 2
        frontier, self.frontier = self.frontier, []
        for chunk in _regroup(frontier, BATCH * self.row.size):
            rows = np.frombuffer(chunk, dtype=np.uint16).reshape(-1, width)
            for at in range(0, len(rows), BATCH):
                part = rows[at:at + BATCH]
                out = form.expand(part)
                self.run.transitions += len(out.parents)
                self.fired_ids.update(np.flatnonzero(np.bincount(out.actions)).tolist())
                for name, n in out.counted.items():
                    self.run.counters[name] += n
                for name, where in out.failed.items():
                    if where.size:
                        self.violation(name, int(where.size), depth + 1)
                succ = out.states if self.canonical is None else form.canonical_rows(out.states)
                if succ.dtype != np.uint16:  # (a form that makes 16-bit rows has checked that they fit)
                    if len(succ) and (succ.min() < 0 or succ.max() > 0xFFFF):
                        raise ValueError("a compact store needs every state to be a flat tuple of ints in "
                                         "0..65535")
                    succ = succ.astype(np.uint16)
                # (a store may leave out the successors equal to their parents, stored already; under symmetry
                # too: the parent is a representative, and so is the successor now)
                after, fps = self.store_class.successors_to_look_up(np.ascontiguousarray(succ), part, out.parents)
                self._dispatch(fps, None, after.view(np.uint8), depth + 1, forward)
                between()
                self._check_limits()

    def _route(self, batch: list[Any], depth: int, forward: Any) -> None:
        """Successors as tuples: a fingerprint store kept in one process needs none of them packed."""
        rows = None if self.fingerprints_only and self.partitions == 1 else self._rows(self.pack(batch))
        self._dispatch(fingerprints(list(map(hash, batch))), batch, rows, depth, forward)

    def _dispatch(self, fps: np.ndarray, states: list[Any] | None, rows: Any, depth: int,
                  forward) -> None:
        """Admit the states this worker owns and forward the others to their owners.

        ``states`` (tuples, when at hand) spare unpacking them for the invariants;
        ``rows`` are the packed states, (n, row bytes), or None when nothing needs them.
        """
        owners = self.owners(fps)
        if owners is None:
            self.admit(states, fps, rows, depth)
            return
        for owner in range(self.partitions):
            picked = np.flatnonzero(owners == owner)
            if not picked.size:
                continue
            if owner == self.me:
                mine = None if states is None else [states[i] for i in picked.tolist()]
                self.admit(mine, fps[picked], rows[picked].tobytes(), depth)
            else:
                forward(owner, fps[picked].tobytes(), rows[picked].tobytes())

    def _rows(self, packed: bytes) -> np.ndarray:
        return np.frombuffer(packed, dtype=np.uint8).reshape(-1, self.row.size)

    def _check_limits(self) -> None:
        """The clock and the memory (the state limit is the caller's: workers count states together)."""
        deadline = self.run.deadline
        if deadline is not None and time.perf_counter() >= deadline:
            raise Stopped(StopReason.TIME_LIMIT)
        if self.should_stop():
            raise Stopped(StopReason.INTERRUPTED)
        self.run.check_memory()

    # -- figures ---------------------------------------------------------------------------
    @property
    def stored(self) -> int:
        return len(self.store) if self.store is not None else 0

    @property
    def transitions(self) -> int:
        return self.run.transitions

    @property
    def lookups(self) -> int:
        return self.store.lookups if self.store is not None else 0

    @property
    def store_bytes(self) -> int:
        return self.store.nbytes if self.store is not None else 0


def _regroup(chunks: Iterable[Any], size: int) -> Iterable[Any]:
    """The same bytes in pieces of about ``size`` (small pieces joined, so a batch is worth its call); a
    piece big enough alone is passed on as it is. A piece is bytes or a contiguous array of rows; joined
    pieces are a bytearray, so the rows over them are writable (a compiled loop takes read-only rows as
    another type, and its caller would copy them)."""
    pending: list[Any] = []
    held = 0
    for chunk in chunks:
        nbytes = memoryview(chunk).nbytes
        if not pending and nbytes >= size:
            yield chunk
            continue
        pending.append(chunk)
        held += nbytes
        if held >= size:
            yield bytearray().join(pending)
            pending, held = [], 0
    if pending:
        yield bytearray().join(pending)


def first_violations(model: Model, canonical: Callable[[Any], Any] | None, invariants: Sequence[Invariant],
                     checks: Sequence[TransitionCheck], lengths: dict[str, int], exact: bool = True
                     ) -> list[tuple[str, Any, list[tuple[Any, Any, Any]], bool]]:
    """The first violation of each property of ``lengths`` at that length, in the order a one-process
    breadth-first search over the dict store meets them: (name, initial state, hops, ends in a transition).

    Used to rebuild counterexamples when the store kept no back-pointers: the
    search goes again from the initial states with an exact store, expanding
    states in the order they were stored, judging each transition's checks
    before storing its successor, as ``explicit.BreadthFirst`` does; so every
    store and every number of workers reports the counterexample that search
    would. The hops are (before, action, after) with ``before`` as stored (a
    representative under symmetry) and ``after`` the real successor. After a
    store that may have missed states (not ``exact``) a property is also looked
    for at shorter lengths.
    """
    canon = canonical or (lambda s: s)
    parent: dict[Any, Any] = {}
    found: list[tuple[str, Any, list[tuple[Any, Any, Any]], bool]] = []
    wanted = dict(lengths)

    def due(name: str, length: int) -> bool:
        at = wanted.get(name)
        return at is not None and (at == length or (not exact and length < at))

    def walk(state: Any) -> tuple[Any, list]:
        hops = []
        while parent[state] is not None:
            before, action, after = parent[state]
            hops.append((before, action, after))
            state = before
        hops.reverse()
        return state, hops

    def judge(state: Any, length: int) -> None:
        for inv in invariants:
            if due(inv.name, length) and not inv.holds(state):
                del wanted[inv.name]
                found.append((inv.name, *walk(state), False))

    level = []
    for s in model.initial_states():
        c = canon(s)
        if c not in parent:
            parent[c] = None
            level.append(c)
            judge(c, 0)
    depth = 0
    while wanted and level and depth < max(wanted.values()):
        watching = [c for c in checks if c.name in wanted]
        following = []
        for s in level:
            for action, after in model.successors(s):
                for check in watching:
                    if due(check.name, depth + 1) and check.watches(action) and not check.holds(s, action, after):
                        del wanted[check.name]
                        initial, hops = walk(s)
                        found.append((check.name, initial, hops + [(s, action, after)], True))
                c = canon(after)
                if c not in parent:
                    parent[c] = (s, action, after)
                    judge(c, depth + 1)
                    following.append(c)
            if not wanted:
                break
        level = following
        depth += 1
    if wanted:
        raise RuntimeError(f"the violation of {', '.join(wanted)} was not found again within "
                           f"{max(wanted.values())} steps: the model's successors are not a function of the state")
    return found


# -- the run ------------------------------------------------------------------------------

LevelFigures = tuple[int, int, int, int, "StopReason | None"]  # one partition's: next frontier, stored, transitions,
                                                               # violations found, why it stopped (or None)


def judge_level(run: Run, level: int, reports: Iterable[LevelFigures], stopped: StopReason | None) -> \
        tuple[int, StopReason | None]:
    """At a level's end, with every partition's figures (worker processes, or shards on a cluster): the run's
    counts, the progress, and why the search stops here, if it does (``stopped``: why the driver asked the
    partitions to stop). Returns the next level's frontier and the stop reason; a frontier of 0 and no reason
    is a search exhausted."""
    reports = list(reports)
    frontier = sum(r[0] for r in reports)
    run.states = sum(r[1] for r in reports)
    run.transitions = sum(r[2] for r in reports)
    stops = {r[4] for r in reports if r[4] is not None}
    if level and frontier:
        run.depth = level
    run.progress.update(states=run.states, transitions=run.transitions, frontier=frontier, depth=run.depth)
    if any(r[3] for r in reports) and run.options.stop_at_first:
        return frontier, StopReason.FIRST_VIOLATION
    if stopped is not None or StopReason.INTERRUPTED in stops:
        return frontier, stopped or StopReason.INTERRUPTED
    for limit in (StopReason.TIME_LIMIT, StopReason.MEMORY_LIMIT, StopReason.OUT_OF_MEMORY):
        if limit in stops:
            return frontier, limit
    if run.options.max_states and run.states >= run.options.max_states:
        return frontier, StopReason.STATE_LIMIT
    return frontier, None


def gather_partitions(run: Run, store: str, partitions: int, finals: Iterable[tuple]) -> None:
    """The end of a search in partitions: each partition's (violations found, counters, coverage items, store
    bytes, lookups, batched) summed into the run, and the violations' traces rebuilt."""
    finals = list(finals)
    for found, counters, covered, _, _, _ in finals:
        for name, count in counters.items():
            run.counters[name] += count
    run.covered_elsewhere = set().union(*(f[2] for f in finals))
    lookups = sum(f[4] for f in finals)
    exact = STORES[store].exact
    store_figures(run, store, sum(f[3] for f in finals), None if exact else miss_probability(lookups, run.states),
                  all(f[5] for f in finals), partitions)
    record_found(run, [v for f in finals for v in f[0]], exact)


def record_found(run: Run, found: Iterable[Found], exact: bool = True) -> None:
    """Counterexamples for what the workers found (the first of each property at its shortest length, the
    others counted), rebuilt by searching again from the initial states."""
    canonical = run.canonical()
    shortest: dict[str, Found] = {}
    for f in found:
        seen = shortest.get(f.name)
        if seen is None:
            shortest[f.name] = Found(f.name, f.count, f.length)
        else:
            seen.count += f.count
            seen.length = min(seen.length, f.length)
    if not shortest:
        return
    lengths = {f.name: f.length for f in shortest.values()}
    for name, initial, hops, ends in first_violations(run.model, canonical, run.invariants, run.checks, lengths,
                                                      exact):
        explanation = explain(run.invariants, run.checks, name, initial, hops, ends)
        run.record(name, counterexample(run.model, canonical, run.invariants, run.checks, name, explanation,
                                        initial, hops, ends), shortest[name].count)


def store_figures(run: Run, store: str, store_bytes: int, miss: float | None, batched: bool, workers: int) -> None:
    run.figures.update(store=store, store_bytes=store_bytes, workers=workers, batched=batched)
    if miss is not None:
        run.figures["miss_probability"] = miss


def search(model: Model, run: Run, store: str) -> None:
    """Breadth-first search in this process over a packed store, by levels; a checkpoint is taken at a
    level boundary (stopped within a level, the last boundary is saved)."""
    worker = LevelWorker(run, store, should_stop=run.interrupt_requested)

    def between() -> None:
        run.states = worker.stored
        run.tick(worker.frontier_size)

    def save(level: int) -> None:
        run.states = stored_at_mark
        run.save("levels", {"level": level, "worker": worker.snapshot()})

    try:
        saved = run.resumed("levels")
        if saved is None:
            worker.seed(list(model.initial_states()))
            run.states = worker.stored
            stop_after_level(run, worker.found)
            level = 0
        else:
            worker.restore(saved["worker"])
            level = saved["level"]
        worker.mark()
        depth_at_mark, stored_at_mark = run.depth, worker.stored
        while True:
            if run.checkpoint_due():
                save(level)
            worker.start_level()
            if not worker.frontier_size:
                break
            run.max_frontier = max(run.max_frontier, worker.frontier_size)
            try:
                worker.expand(level, between=between)
            except Stopped as stop:
                if run.checkpoints is not None and stop.reason in (StopReason.INTERRUPTED, StopReason.TIME_LIMIT):
                    transitions, counters = run.transitions, dict(run.counters)
                    run.transitions = worker.boundary["transitions"]  # the figures of the boundary saved
                    run.counters.update(worker.boundary["counters"])
                    depth, run.depth = run.depth, depth_at_mark
                    save(level)
                    run.transitions, run.depth = transitions, depth
                    run.counters.update(counters)
                raise
            level += 1
            run.states = worker.stored
            if worker.next_size:
                run.depth = level
            stop_after_level(run, worker.found)
            worker.mark()
            depth_at_mark, stored_at_mark = run.depth, worker.stored
    finally:
        run.states = worker.stored
        run.fired = worker.fired()
        store_figures(run, store, worker.store_bytes, worker.store.miss_probability() if worker.store else None,
                      worker.form is not None, 1)
        record_found(run, worker.found.values(), STORES[store].exact)
