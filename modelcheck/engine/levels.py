"""Breadth-first search one depth level at a time, over a compact store.

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

from modelcheck.engine.model import Model, TransitionCheck, coverage_of, split_properties
from modelcheck.engine.progress import Progress
from modelcheck.engine.result import Result, Stats, Verdict, Violation
from modelcheck.engine.traces import counterexample, explain
from modelcheck.engine.store import (CompactStore, FingerprintStore, fingerprints, miss_probability, owner_of,
                                     row_fingerprints)

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


class Stopped(Exception):
    """A worker stops expanding (first violation, a limit, or the user)."""

    def __init__(self, reason: str | None) -> None:
        super().__init__(reason)
        self.reason = reason


class LevelWorker:
    """Expands the frontier it owns; admits the successors it owns into its store."""

    def __init__(self, model: Model, *, store: str, reduce: bool, stop_at_first: bool,
                 me: int = 0, partitions: int = 1, deadline: float | None = None,
                 should_stop: Callable[[], bool] = lambda: False) -> None:
        self.model = model
        self.me, self.partitions = me, partitions
        self.stop_at_first = stop_at_first
        self.deadline = deadline
        self.should_stop = should_stop
        self.canonical = getattr(model, "canonical", None) if reduce else None
        self.store_kind = store
        self.fingerprints_only = store == "fingerprint"
        self.logged = not self.fingerprints_only  # the store keeps every state in a log
        self.store: CompactStore | FingerprintStore | None = None
        self.row: struct.Struct | None = None
        self.invariants, checks, self.counters = split_properties(model)
        self.transition_checks = checks
        self.checks_cache: dict[Any, tuple[TransitionCheck, ...]] = {}
        # packed states of the level being expanded, and of the next; a compact store's log holds
        # them already, in the order they were stored, so there the frontier is a range of the log
        self.frontier: list[bytes] = []
        self.next: list[bytes] = []
        self.next_from = 0
        self.frontier_size = 0
        self.next_size = 0
        self.transitions = 0
        self.found: dict[str, Found] = {}
        # a model may offer its successors a batch of states at a time, as array operations
        # (``batch_successors``); used when it judges every transition property the model has
        # (and, under a symmetry reduction, representatives of a batch of rows: ``canonical_rows``)
        self.kernel = None
        offer = getattr(model, "batch_successors", None)
        kernel = offer() if offer is not None else None
        if kernel is not None and {c.name for c in checks} <= kernel.checks and \
                (self.canonical is None or hasattr(kernel, "canonical_rows")):
            self.kernel = kernel
        self.fired_ids: set[int] = set()

    # -- set-up ---------------------------------------------------------------------
    def _open_store(self, width: int) -> None:
        self.row = struct.Struct(f"{width}H")
        if self.store_kind == "fingerprint":
            self.store = FingerprintStore()
        else:
            self.store = CompactStore(self.row.size)

    def pack(self, states: list[tuple]) -> bytes:
        try:
            return b"".join(itertools.starmap(self.row.pack, states))
        except struct.error as err:
            raise ValueError("a compact store needs every state to be a flat tuple of ints in 0..65535 "
                             f"of one length ({err}); use --store dict") from None

    def unpack(self, data: bytes) -> Iterable[tuple]:
        return self.row.iter_unpack(data)

    def fingerprints(self, states: list[tuple]) -> np.ndarray:
        """One fingerprint function per run: rows' when a batch kernel makes the states, else Python's hash."""
        if self.kernel is not None:
            return row_fingerprints(np.array(states, dtype=np.int64).reshape(len(states), -1))
        return fingerprints([hash(s) for s in states])

    def fired(self) -> list[Any]:
        """The distinct actions that fired (coverage)."""
        if self.kernel is not None:
            return [self.kernel.actions[i] for i in sorted(self.fired_ids)]
        return list(self.checks_cache)

    def owners(self, fps: np.ndarray) -> np.ndarray | None:
        return owner_of(fps, self.partitions) if self.partitions > 1 else None

    # -- admitting states -------------------------------------------------------------
    def admit(self, states: list[tuple] | None, fps: np.ndarray, packed: bytes | None, depth: int) -> int:
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
                self.next.append(self.pack([states[i] for i in picked]))
            else:
                self.next.append(self._rows(packed)[fresh].tobytes())
        self.next_size += len(picked)
        if self.invariants:
            for i in picked:
                state = states[i] if states is not None else self.row.unpack_from(packed, i * self.row.size)
                for inv in self.invariants:
                    if not inv.holds(state):
                        self.violation(Found(inv.name, 1, depth, state))
        return len(picked)

    def admit_packed(self, fps_bytes: bytes, packed: bytes, depth: int) -> int:
        """Admit states another worker forwarded (already fingerprinted and packed)."""
        return self.admit(None, np.frombuffer(fps_bytes, dtype=np.uint64), packed, depth)

    def seed(self, states: list[tuple]) -> None:
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
        if self.stop_at_first:
            raise Stopped(None)

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
        if self.kernel is not None:
            self._expand_batches(depth, forward, between)
            return
        successors, canonical = self.model.successors, self.canonical
        cache, checks_for = self.checks_cache, self._checks_for
        batch: list[tuple] = []
        transitions = 0
        frontier, self.frontier = self.frontier, []
        try:
            for chunk in frontier:
                for state in self.unpack(chunk):
                    for action, after in successors(state):
                        transitions += 1
                        checks = cache.get(action)
                        if checks is None:
                            checks = checks_for(action)
                        for check in checks:
                            if not check.holds(state, action, after):
                                self.violation(Found(check.name, 1, depth, state, action, after))
                        batch.append(canonical(after) if canonical is not None and after is not state else after)
                    if len(batch) >= BATCH:
                        self._route(batch, depth + 1, forward)
                        batch = []
                        between()
                        self._check_limits()
            if batch:
                self._route(batch, depth + 1, forward)
        finally:
            self.transitions += transitions

    def _expand_batches(self, depth: int, forward, between: Callable[[], None]) -> None:
        """Expand the frontier with the model's batch kernel: no Python object per transition."""
        kernel, width = self.kernel, self.row.size // 2
        frontier, self.frontier = self.frontier, []
        for chunk in _regroup(frontier, BATCH * self.row.size):
            rows = np.frombuffer(chunk, dtype=np.uint16).reshape(-1, width)
            for at in range(0, len(rows), BATCH):
                part = rows[at:at + BATCH]
                out = kernel.expand(part)
                self.transitions += len(out.parents)
                self.fired_ids.update(np.unique(out.actions).tolist())
                for name, n in out.counted.items():
                    self.counters[name] += n
                for name, where in out.failed.items():
                    if where.size:  # the first is kept as a counterexample, the others counted
                        i = where[0]
                        self.violation(Found(name, int(where.size), depth, tuple(part[out.parents[i]].tolist()),
                                             kernel.actions[out.actions[i]], tuple(out.states[i].tolist())))
                succ = out.states if self.canonical is None else kernel.canonical_rows(out.states)
                if len(succ) and (succ.min() < 0 or succ.max() > 0xFFFF):
                    raise ValueError("a compact store needs every state to be a flat tuple of ints in 0..65535")
                after = succ.astype(np.uint16)
                self._dispatch(row_fingerprints(after), None, after.view(np.uint8), depth + 1, forward)
                between()
                self._check_limits()

    def _route(self, batch: list[tuple], depth: int, forward) -> None:
        """Successors as tuples: a fingerprint store kept in one process needs none of them packed."""
        rows = None if self.fingerprints_only and self.partitions == 1 else self._rows(self.pack(batch))
        self._dispatch(fingerprints(list(map(hash, batch))), batch, rows, depth, forward)

    def _dispatch(self, fps: np.ndarray, states: list[tuple] | None, rows: np.ndarray | None, depth: int,
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

    def _checks_for(self, action: Any) -> tuple[TransitionCheck, ...]:
        checks = tuple(c for c in self.transition_checks if c.watches(action))
        self.checks_cache[action] = checks
        return checks

    def _check_limits(self) -> None:
        if self.deadline is not None and time.perf_counter() >= self.deadline:
            raise Stopped("time")
        if self.should_stop():
            raise Stopped("stop")

    # -- figures ---------------------------------------------------------------------------
    @property
    def stored(self) -> int:
        return self.store.count if self.store is not None else 0

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

def stop_reason(stop: str | None, options: Any, stored: int = 0) -> str | None:
    """Why a run ended early, in the words the dict search uses."""
    if stop == "time":
        return f"time limit of {options.time_limit:g} s reached"
    if stop == "states":
        return f"state limit of {options.max_states:,} reached ({stored:,} stored)"
    if stop == "stop":
        return "interrupted by the user"
    return stop


def traces_of(model: Model, canonical: Callable[[Any], Any] | None, found: Iterable[Found]) -> tuple:
    """Counterexamples for what the workers found, rebuilt by searching again from the initial states."""
    invariants, checks, _ = split_properties(model)
    out = []
    for f in found:
        initial, hops = path_to(model, canonical, f.state, f.depth)
        ends = f.action is not None
        if ends:
            hops.append((f.state, f.action, f.after))
        explanation = explain(invariants, checks, f.name, initial, hops, ends)
        out.append(Violation(f.name, f.count, counterexample(model, canonical, invariants, checks, f.name,
                                                              explanation, initial, hops, ends)))
    return tuple(out)


def result_of(model: Model, options: Any, *, store: str, stored: int, transitions: int, depth: int,
              seconds: float, max_frontier: int, found: list[Found], reason: str | None, interrupted: bool,
              counts: dict[str, int], covered: set[str] | None, fired: Iterable[Any] = (),
              store_bytes: int, lookups: int, workers: int, batched: bool = False) -> Result:
    """One Result from the figures of one or several workers."""
    canonical = getattr(model, "canonical", None) if options.reduce else None
    shortest: dict[str, Found] = {}
    for f in sorted(found, key=lambda f: f.length):  # workers of one level find violations of one length
        if f.name in shortest:
            shortest[f.name].count += f.count
        else:
            shortest[f.name] = Found(f.name, f.count, f.depth, f.state, f.action, f.after)
    if options.stop_at_first:  # a batch or a second worker may have seen more before stopping: not counted
        for f in shortest.values():
            f.count = 1
    violations = traces_of(model, canonical, shortest.values())
    if covered is None:
        covered_items, not_covered = coverage_of(model, fired)
    else:
        covered_items, not_covered = coverage_of(model, (), covered)
    miss = miss_probability(lookups, stored) if store == "fingerprint" else None
    return Result(verdict=Verdict.of(bool(violations), reason),
                  stats=Stats(states=stored, transitions=transitions, depth=depth, seconds=seconds,
                              max_frontier=max_frontier),
                  violations=violations, incomplete_reason=reason, strategy="bfs", interrupted=interrupted,
                  counts=counts, covered=covered_items, not_covered=not_covered,
                  reductions=("symmetry",) if canonical is not None else (),
                  store=store, store_bytes=store_bytes, workers=workers, miss_probability=miss,
                  batched=batched)


def run(model: Model, options: Any, progress: Progress) -> Result:
    """Breadth-first search in this process over a compact or fingerprint store."""
    started = time.perf_counter()
    deadline = started + options.time_limit if options.time_limit else None
    store = options.store or "compact"
    worker = LevelWorker(model, store=store, reduce=options.reduce, stop_at_first=options.stop_at_first,
                         deadline=deadline)
    reason: str | None = None
    interrupted = False
    depth = max_frontier = 0
    last_report = [started]

    def between() -> None:
        if options.max_states and worker.stored >= options.max_states:
            raise Stopped("states")
        now = time.perf_counter()
        if now - last_report[0] >= 0.2:
            last_report[0] = now
            progress.update(states=worker.stored, transitions=worker.transitions,
                            frontier=worker.frontier_size, depth=depth)

    try:
        try:
            worker.seed(list(model.initial_states()))
            level = 0
            while True:
                worker.start_level()
                if not worker.frontier_size:
                    break
                max_frontier = max(max_frontier, worker.frontier_size)
                worker.expand(level, between=between)
                level += 1
                if worker.next_size:
                    depth = level
        except Stopped as stop:
            reason = stop_reason(stop.reason, options, worker.stored)
    except KeyboardInterrupt:
        reason, interrupted = "interrupted by the user", True
    finally:
        progress.close()
    return result_of(model, options, store=store, stored=worker.stored, transitions=worker.transitions,
                     depth=depth, seconds=time.perf_counter() - started, max_frontier=max_frontier,
                     found=list(worker.found.values()), reason=reason, interrupted=interrupted,
                     counts=dict(worker.counters), covered=None, fired=worker.fired(),
                     store_bytes=worker.store_bytes, lookups=worker.lookups, workers=1,
                     batched=worker.kernel is not None)
