"""Breadth-first search one depth level at a time, over a packed store (the ``bfs`` strategy's backend).

The frontier of a level is kept as packed bytes, successors are looked up in
the store a batch at a time, and no back-pointers are kept: a counterexample is
rebuilt afterwards by searching again, with an exact store, from the initial
states to the violating state (as TLC and Stateright do for fingerprint stores).

A ``LevelWorker`` owns one hash partition of the state space; a single process
is one worker owning everything, and ``parallel`` runs several that forward the
successors they do not own to their owners.
"""

from __future__ import annotations

import itertools
import struct
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable

import numpy as np

from modelcheck.engine.errors import NotSearchable, StopReason, Stopped
from modelcheck.engine.model import Model, batch_form
from modelcheck.engine.pipeline import Pipeline
from modelcheck.engine.run import Run
from modelcheck.engine.stores import STORES, fingerprints, owner_of, row_fingerprints
from modelcheck.engine.traces import counterexample, explain

BATCH = 4096  # successors looked up in the store at once


@dataclass
class Found:
    """A violation as a worker saw it: enough to find it again, not yet a trace."""

    name: str
    count: int
    depth: int          # depth of ``state`` (the violating state, or the state before the violating transition)
    state: Any
    action: Any = None  # the violating transition's action and successor, for a transition check
    after: Any = None

    @property
    def length(self) -> int:
        return self.depth + (1 if self.action is not None else 0)


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
        self.fingerprints_only = not self.store_class.exact
        self.logged = not self.fingerprints_only  # the store keeps every state in a log
        self.store: Any = None  # opened by ``seed``, when the width of a state is known
        self.row: Any = None    # struct.Struct of a packed state, likewise
        # packed states of the level being expanded, and of the next; a compact store's log holds
        # them already, in the order they were stored, so there the frontier is a range of the log
        self.frontier: Iterable[bytes] = []
        self.next: list[bytes] = []
        self.next_from = 0
        self.frontier_size = 0
        self.next_size = 0
        self.found: dict[str, Found] = {}
        # a model may offer its successors a batch of states at a time, as array operations (``Batched``);
        # used when it judges every transition property the model has
        self.form: Any = None
        form = batch_form(self.model, self.canonical is not None)
        if form is not None and {c.name for c in run.checks} <= form.checks:
            self.form = form
        self.fired_ids: set[int] = set()

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
            return row_fingerprints(np.array(states, dtype=np.int64).reshape(len(states), -1))
        return fingerprints([hash(s) for s in states])

    def fired(self) -> list[Any]:
        """The distinct actions that fired (coverage)."""
        if self.form is not None:
            return [self.form.actions[i] for i in sorted(self.fired_ids)]
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
                    self.violation(Found(inv.name, 1, depth, state))
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
        self._dispatch(self.fingerprints(states), states, self._rows(self.pack(states)), 0, lambda *_: None)

    def violation(self, found: Found) -> None:
        seen = self.found.get(found.name)
        if seen is None:
            self.found[found.name] = found
        else:
            seen.count += found.count
        if self.run.options.stop_at_first:
            raise Stopped(StopReason.FIRST_VIOLATION)

    # -- expanding a level -------------------------------------------------------------
    def start_level(self) -> None:
        if self.logged and self.store is not None:
            self.frontier = self._log_chunks(self.next_from, self.store.log.count)
            self.next_from = self.store.log.count
        else:
            self.frontier, self.next = self.next, []
        self.frontier_size, self.next_size = self.next_size, 0

    def _log_chunks(self, start: int, end: int) -> Iterable[bytes]:
        """The packed states start..end of the store's log, a batch at a time."""
        log = self.store.log
        for at in range(start, end, BATCH):
            yield log.rows(np.arange(at, min(at + BATCH, end))).tobytes()

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
                        self.violation(Found(check.name, 1, depth, state, action, after))
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
                self.fired_ids.update(np.unique(out.actions).tolist())
                for name, n in out.counted.items():
                    self.run.counters[name] += n
                for name, where in out.failed.items():
                    if where.size:  # the first is kept as a counterexample, the others counted
                        i = where[0]
                        self.violation(Found(name, int(where.size), depth, tuple(part[out.parents[i]].tolist()),
                                             form.actions[out.actions[i]], tuple(out.states[i].tolist())))
                succ = out.states if self.canonical is None else form.canonical_rows(out.states)
                if len(succ) and (succ.min() < 0 or succ.max() > 0xFFFF):
                    raise ValueError("a compact store needs every state to be a flat tuple of ints in 0..65535")
                after = succ.astype(np.uint16)
                self._dispatch(row_fingerprints(after), None, after.view(np.uint8), depth + 1, forward)
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
            self.admit(states, fps, None if rows is None else rows.tobytes(), depth)
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


def _regroup(chunks: Iterable[bytes], size: int) -> Iterable[bytes]:
    """The same bytes in pieces of about ``size`` (small pieces joined, so a batch is worth its call)."""
    pending: list[bytes] = []
    held = 0
    for chunk in chunks:
        pending.append(chunk)
        held += len(chunk)
        if held >= size:
            yield b"".join(pending)
            pending, held = [], 0
    if pending:
        yield b"".join(pending)


def path_to(model: Model, canonical: Callable[[Any], Any] | None, target: Any, depth: int
            ) -> tuple[Any, list[tuple[Any, Any, Any]]]:
    """The first path, in breadth-first order, from an initial state to ``target`` (a stored state).

    Used to rebuild a counterexample when the store kept no back-pointers. The
    hops are (before, action, after) with ``before`` as stored (a
    representative under symmetry) and ``after`` the real successor.
    """
    canon = canonical or (lambda s: s)
    parent: dict[Any, Any] = {}
    level = []
    for s in model.initial_states():
        c = canon(s)
        if c not in parent:
            parent[c] = None
            level.append(c)

    def walk(state: Any) -> tuple[Any, list]:
        hops = []
        while parent[state] is not None:
            before, action, after = parent[state]
            hops.append((before, action, after))
            state = before
        hops.reverse()
        return state, hops

    if target in parent:
        return walk(target)
    for _ in range(depth):
        following = []
        for s in level:
            for action, after in model.successors(s):
                c = canon(after)
                if c not in parent:
                    parent[c] = (s, action, after)
                    if c == target:
                        return walk(c)
                    following.append(c)
        level = following
    raise RuntimeError(f"the violating state was not found again within {depth} steps: "
                       "the model's successors are not a function of the state")


# -- the run ------------------------------------------------------------------------------

def record_found(run: Run, found: Iterable[Found]) -> None:
    """Counterexamples for what the workers found (the shortest of each property, the others counted),
    rebuilt by searching again from the initial states."""
    canonical = run.canonical()
    shortest: dict[str, Found] = {}
    for f in sorted(found, key=lambda f: f.length):  # workers of one level find violations of one length
        if f.name in shortest:
            shortest[f.name].count += f.count
        else:
            shortest[f.name] = Found(f.name, f.count, f.depth, f.state, f.action, f.after)
    for f in shortest.values():
        initial, hops = path_to(run.model, canonical, f.state, f.depth)
        ends = f.action is not None
        if ends:
            hops.append((f.state, f.action, f.after))
        explanation = explain(run.invariants, run.checks, f.name, initial, hops, ends)
        run.record(f.name, counterexample(run.model, canonical, run.invariants, run.checks, f.name, explanation,
                                          initial, hops, ends), f.count)


def store_figures(run: Run, store: str, store_bytes: int, miss: float | None, batched: bool, workers: int) -> None:
    run.figures.update(store=store, store_bytes=store_bytes, workers=workers, batched=batched)
    if miss is not None:
        run.figures["miss_probability"] = miss


def search(model: Model, run: Run, store: str) -> None:
    """Breadth-first search in this process over a packed store, by levels."""
    worker = LevelWorker(run, store)

    def between() -> None:
        run.states = worker.stored
        run.tick(worker.frontier_size)

    try:
        worker.seed(list(model.initial_states()))
        run.states = worker.stored
        level = 0
        while True:
            worker.start_level()
            if not worker.frontier_size:
                break
            run.max_frontier = max(run.max_frontier, worker.frontier_size)
            worker.expand(level, between=between)
            level += 1
            run.states = worker.stored
            if worker.next_size:
                run.depth = level
    finally:
        run.states = worker.stored
        run.fired = worker.fired()
        store_figures(run, store, worker.store_bytes, worker.store.miss_probability() if worker.store else None,
                      worker.form is not None, 1)
        record_found(run, worker.found.values())
