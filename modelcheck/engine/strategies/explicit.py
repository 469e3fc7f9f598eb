"""Explicit-state search: breadth-first (shortest counterexamples) or depth-first.

Over the dict store each distinct state is kept with the state it was first
reached from and the action, so a counterexample is a walk back. Under
breadth-first search states are expanded in order of depth, so the first
violation found is a shortest one; stopping at the first violation finishes the
level it was found in, so the counts are those of whole levels (the same under
every store and number of workers, ``levels``). Breadth-first search over a packed store
(``levels``), or in several processes (``parallel``), is the same search by
levels, with the traces rebuilt afterwards.
"""

from __future__ import annotations

from typing import Any

from modelcheck.engine import compiled_store
from modelcheck.engine.errors import StopReason, Stopped
from modelcheck.engine.model import Action, Model, State, TransitionCheck, batch_form
from modelcheck.engine.options import SearchOptions
from modelcheck.engine.pipeline import Pipeline
from modelcheck.engine.run import Run
from modelcheck.engine.stores import STORES, DictStore
from modelcheck.engine.strategies import STRATEGIES, Strategy, depth_refused
from modelcheck.engine.traces import counterexample

CHECK_EVERY = 1024  # expansions between looks at the clock


class Explorer:
    """The dict store, its back-pointers and the pipeline, shared by breadth- and depth-first search."""

    def __init__(self, run: Run, finish_levels: bool = False) -> None:
        self.run = run
        # breadth-first search records violations and stops at the end of the level; depth-first at once
        self.report = run.record if finish_levels else run.found
        self.pipeline = Pipeline(run)
        self.store = DictStore()
        run.figures["store"] = DictStore.name

    def admit(self, key: State, parent: int, action: Action) -> int:
        """Store a state the store does not hold (the caller asked it) and judge the invariants on it."""
        run = self.run
        if run.states == run.options.max_states:
            raise Stopped(StopReason.STATE_LIMIT)
        sid = self.store.add(key, parent, action)
        run.states += 1
        for inv in self.pipeline.broken_invariants(key):
            self.found(inv.name, inv.explain(key), sid, None, None)
        return sid

    def seed(self) -> list[int]:
        return [self.admit(key, -1, None) for _, key in self.pipeline.initial_keys() if key not in self.store]

    def broke(self, check: TransitionCheck, sid: int, state: State, action: Action, after: State) -> None:
        self.found(check.name, check.explain(state, action, after), sid, action, after)

    def found(self, name: str, explanation: str, sid: int, action: Any, after: Any) -> None:
        """A violation at state ``sid`` (or on the transition ``action`` from it to ``after``)."""
        trace = None
        if self.run.wants_trace(name):
            initial, hops = self.store.path(sid)
            if action is not None:
                hops.append((self.store.states[sid], action, after))
            trace = counterexample(self.run.model, self.pipeline.canonical, self.run.invariants, self.run.checks,
                                   name, explanation, initial, hops, action is not None)
        self.report(name, trace)


@STRATEGIES.register
class BreadthFirst(Strategy):
    """Expand states in the order they were stored, one depth level after another."""

    name = "bfs"
    summary = "breadth-first"
    flag_help = "breadth-first search: shortest counterexamples (default)"
    checkpoints = True
    clusters = True
    shortest = True  # levels in order of depth: the first violation of a property is found at its least depth
    counterexample_words = "shortest counterexample"

    @classmethod
    def options_error(cls, options: SearchOptions) -> str | None:
        if options.workers > 1 and options.store is not None and not STORES[options.store].packed:
            return f"several workers need a packed store (compact or fingerprint), not {options.store}"
        if options.on_cluster and options.store is not None and not STORES[options.store].packed:
            return f"a search on a Dask cluster needs a packed store (compact or fingerprint), not {options.store}"
        if options.on_cluster and (options.checkpoint or options.resume):
            return ("a search on a Dask cluster cannot save or resume checkpoints yet "
                    "(--checkpoint and --resume: in one process or with --workers)")
        if options.depth is not None:
            return depth_refused()
        return None

    def run(self, model: Model, run: Run) -> None:
        store = store_for(run.options, model)
        if run.options.on_cluster:
            from modelcheck.engine.strategies import cluster

            cluster.search(model, run, store)
        elif run.options.workers > 1:
            from modelcheck.engine.strategies import parallel

            parallel.search(model, run, store)
        elif STORES[store].packed:
            from modelcheck.engine.strategies import levels

            levels.search(model, run, store)
        else:
            self._search(Explorer(run, finish_levels=True))

    @staticmethod
    def _search(explorer: Explorer) -> None:
        """The queue is the store's order: a checkpoint may be taken between any two expansions."""
        run, store, expand, admit = explorer.run, explorer.store, explorer.pipeline.unknown_or_broken, explorer.admit
        states, known = store.states, store.index
        saved = run.resumed("dict")
        if saved is None:
            explorer.seed()
            stop_after_level(run, run.violations)
            i = 0
            level = 0                # depth of the state being expanded
            level_end = len(states)  # first index of the next level
        else:
            store.states[:], store.parent[:], store.via[:] = saved["states"], saved["parent"], saved["via"]
            known.update((state, sid) for sid, state in enumerate(states))
            explorer.pipeline.restore_fired(saved["fired"])
            i, level, level_end = saved["at"], saved["level"], saved["level_end"]

        def save() -> None:
            run.save("dict", {"states": states, "parent": store.parent, "via": store.via, "at": i, "level": level,
                              "level_end": level_end, "fired": explorer.pipeline.fired_actions()})

        while i < len(states):
            if i == level_end:
                stop_after_level(run, run.violations)
                level += 1
                level_end = len(states)
            state = states[i]
            for action, after, key, broken in expand(state, known):
                for check in broken:
                    explorer.broke(check, i, state, action, after)
                if key not in known:  # (an earlier successor of the same state may have been it)
                    admit(key, i, action)
                    run.depth = level + 1
            i += 1
            if not i % CHECK_EVERY:
                if run.checkpoints is None:
                    run.tick(len(states) - i)
                    continue
                try:
                    run.tick(len(states) - i)
                except Stopped as stop:  # between two expansions: a place to save
                    if stop.reason in (StopReason.INTERRUPTED, StopReason.TIME_LIMIT):
                        save()
                    raise
                if run.checkpoint_due():
                    save()
        stop_after_level(run, run.violations)


@STRATEGIES.register
class DepthFirst(Strategy):
    """Depth-first with an explicit stack of successor iterators, over the dict store."""

    name = "dfs"
    summary = "depth-first"
    flag_help = "depth-first search"

    @classmethod
    def options_error(cls, options: SearchOptions) -> str | None:
        if options.workers > 1 or options.store not in (None, DictStore.name):
            return "depth-first search runs in one process over the dict store"
        if options.depth is not None:
            return depth_refused()
        return None

    def run(self, model: Model, run: Run) -> None:
        explorer = Explorer(run)
        transitions, admit, states = explorer.pipeline.transitions, explorer.admit, explorer.store.states
        known = explorer.store.index
        stack = [(sid, states[sid], transitions(states[sid])) for sid in reversed(explorer.seed())]
        expanded = 0
        while stack:
            sid, state, pending = stack[-1]
            for action, after, key, broken in pending:
                for check in broken:
                    explorer.broke(check, sid, state, action, after)
                new = admit(key, sid, action) if key not in known else None
                if new is not None:
                    stack.append((new, key, transitions(key)))
                    run.depth = max(run.depth, len(stack) - 1)
                    break
            else:
                stack.pop()
            expanded += 1
            if not expanded % CHECK_EVERY:
                run.tick(len(stack))


def stop_after_level(run: Run, found: Any) -> None:
    """At the end of a level: stop if something was found and the run stops at the first violation."""
    if found and run.options.stop_at_first:
        raise Stopped(StopReason.FIRST_VIOLATION)


def store_for(options: SearchOptions, model: Model | None = None) -> str:
    """The store a breadth-first run uses: the one asked for; else, where the model offers batch successors,
    the compiled store (its loops and the model's compiled form) if numba is present, compact if not; else
    compact in several processes, dict (back-pointers) in one."""
    if options.store is not None:
        return options.store
    form = batch_form(model, options.reduce) if model is not None else None
    if form is not None:
        return "compiled" if compiled_store.available() else "compact"
    return "compact" if options.workers > 1 or options.on_cluster else DictStore.name

