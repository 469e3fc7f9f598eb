"""Search strategies behind one interface, and the driver that runs them.

A strategy is a small class registered where it is written: its ``name``,
what combinations of options it can honour (``options_error``), whether it
can search a given model (``accepts``, from the model's declared
capabilities), and ``run(model, run)``, which reports everything through the
``Run``. ``check`` runs the strategy asked for; when that one does not accept
the model and names a strategy to fall back to, the first that accepts runs
instead, with a note saying why.

The built-in strategies are the modules imported at the end of this file: a new
strategy is one new module plus one line there.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from abc import ABC, abstractmethod
from contextlib import contextmanager
from dataclasses import replace
from typing import Any, ClassVar, Iterator

from modelcheck.engine.checkpoint import Checkpoints
from modelcheck.engine.errors import Declined, NotSearchable, StopReason, Stopped
from modelcheck.engine.minimize import minimize_violations
from modelcheck.engine.model import Model
from modelcheck.engine.options import SearchOptions
from modelcheck.engine.progress import Progress
from modelcheck.engine.registry import Registry
from modelcheck.engine.result import Result
from modelcheck.engine.run import Run
from modelcheck.engine.symbolic import SolverGaveUp


class Strategy(ABC):
    """One way of searching a model."""

    name: ClassVar[str]
    summary: ClassVar[str]                    # a few words: "breadth-first", "random simulation" ...
    falls_back_to: ClassVar[str | None] = None  # the strategy to try when this one does not accept a model
    prefers_world: ClassVar[str | None] = None  # a world variant this strategy searches better, if offered
    flag_help: ClassVar[str | None] = None      # the command line's --NAME for it, if it has one
    settings: ClassVar[tuple[tuple[str, str], ...]] = ()  # (name, help) of its own whole-number settings
    checkpoints: ClassVar[bool] = False  # it can save itself to a checkpoint and resume from one
    clusters: ClassVar[bool] = False     # it can run on a Dask cluster (``SearchOptions.on_cluster``)
    shortest: ClassVar[bool] = False     # its first counterexample of a property is a shortest one
                                         # (``--minimize`` leaves its traces alone)
    found_by: ClassVar[str] = "depth-first search"  # who found a counterexample, in a sentence
    counterexample_words: ClassVar[str] = "counterexample (depth-first)"  # what its counterexamples are
    depth_bounds: ClassVar[str | None] = None  # what ``--depth`` bounds under it, if it takes one
    depth_help: ClassVar[str | None] = None    # ... as the ``--depth`` flag's help says it

    @classmethod
    def options_error(cls, options: SearchOptions) -> str | None:
        """What in ``options`` this strategy cannot honour (a usage error), or None."""
        return None

    @classmethod
    def accepts(cls, model: Model, options: SearchOptions) -> str | None:
        """Why this strategy cannot search ``model`` (from its capabilities), or None when it can."""
        return None

    @abstractmethod
    def run(self, model: Model, run: Run) -> None:
        """Search ``model``, reporting through ``run``; return when everything was searched, or raise
        ``Stopped``; raise ``Declined`` if the model turns out to be one this strategy cannot search."""


STRATEGIES: Registry[type[Strategy]] = Registry("search strategy")


def depth_refused() -> str:
    """The usage error of ``--depth`` given to a strategy that takes none: which ones it bounds."""
    return "--depth bounds " + " and ".join(s.depth_bounds for s in STRATEGIES.values() if s.depth_bounds)


def check(model: Model, options: SearchOptions | None = None, progress: Progress | None = None,
          title: str = "exploring", checkpoints: Checkpoints | None = None, started: float | None = None) -> Result:
    """Search ``model`` with the strategy ``options`` names (or the first fall-back that accepts it);
    with ``checkpoints``, saving itself as it goes (or continuing from the snapshot they hold). ``started``
    (a ``time.perf_counter()`` reading) is when the run's clock started, if before the search: building the
    model counts against the time limit, and in the seconds reported."""
    options = options or SearchOptions()
    progress = progress or Progress()
    notes: list[str] = []
    while True:
        strategy = STRATEGIES[options.strategy]
        reason = strategy.accepts(model, options)
        if reason is None:
            try:
                return _execute(strategy(), Run(model, options, progress, strategy.name, notes, checkpoints,
                                                started), title)
            except Declined as declined:
                reason = str(declined)
        fallback = strategy.falls_back_to
        if fallback is None:
            raise NotSearchable(reason)
        notes.append(f"{reason}: searched {STRATEGIES[fallback].summary} instead")
        options = replace(options, strategy=fallback)


ALARM_GRACE = 1.0  # seconds past the deadline before the alarm ends a step that never looked at the clock


@contextmanager
def _alarm(deadline: float | None) -> Iterator[None]:
    """The time limit's backstop: strategies look at the clock every so often, but one step that never comes
    back to them (a huge expansion, a slow solver question) is ended by a timer signal instead. Only in the
    main thread, only when no one else's timer is set, and never under checkpoints: a signal in the middle of
    a store's update must not be what a checkpoint saves (those runs stop where the search looks)."""
    usable = (deadline is not None and os.name == "posix"
              and threading.current_thread() is threading.main_thread()
              and signal.getitimer(signal.ITIMER_REAL)[0] == 0)
    if not usable:
        yield
        return
    assert deadline is not None

    def ring(signum: int, frame: Any) -> None:
        raise Stopped(StopReason.TIME_LIMIT)

    previous = signal.signal(signal.SIGALRM, ring)
    signal.setitimer(signal.ITIMER_REAL, max(0.001, deadline - time.perf_counter() + ALARM_GRACE))
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _execute(strategy: Strategy, run: Run, title: str) -> Result:
    run.progress.start(title)
    try:
        with _alarm(run.deadline if run.checkpoints is None else None):
            strategy.run(run.model, run)
    except Stopped as stop:
        run.stop, run.stop_detail = stop.reason, stop.detail
    except SolverGaveUp as gave_up:  # a model whose steps ask z3, or a strategy that does
        run.stop, run.stop_detail = StopReason.SOLVER_GAVE_UP, str(gave_up)
    except KeyboardInterrupt:
        run.stop = StopReason.INTERRUPTED
    except MemoryError as refused:  # the allocator said no before the limit did: what was found is kept
        run.stop, run.stop_detail = StopReason.OUT_OF_MEMORY, str(refused)
    finally:
        run.progress.close()
    if run.options.minimize and run.violations and run.stop is not StopReason.INTERRUPTED:
        if type(strategy).shortest:
            run.note(f"--minimize: {strategy.summary} search finds shortest counterexamples already")
        else:
            minimize_violations(run)
    return run.result()


# the built-in strategies: each module registers its own
from modelcheck.engine.strategies import explicit, dpor, bmc, simulate  # noqa: E402,F401
