"""The nightly run's plan and its budget: every spec under every policy, climbing each spec's bound ladder.

This is runner-side glue, like ``runner.run_matrix``: it knows specs, their
policies and their ladders (``Spec.rungs``), and nothing of what a cell finds.
A **cell** is one spec under one policy; a **rung** one set of the spec's
parameters. The budget is spent where it buys the most: no rung k+1 of any
cell is started while a rung k of some cell waits to start, a cell stops
climbing at its first rung that does not end in ``holds`` (a violation, a
vacuous or failed run, or one the budget cut off), and each rung is given as
its time limit its share of the time left of the budget among the cells
waiting at the same rung (``slots`` at a time; the last of them gets all that
is left), so that one large rung does not starve the others of a try at
theirs; a rung its share cut off is tried once more when the others at its
rung have had theirs. A cell is never reported beyond the largest rung it
finished.

Runs go through an executor with the ``concurrent.futures`` interface
(``submit(fn, *args) -> future``) and are waited for with an
``as_completed``-style function: this process, or a Dask client
(``client.submit``, ``distributed.as_completed``) on a LocalCluster
(``--workers N``) or a cluster elsewhere (``--scheduler ADDRESS``). The function
run is given and returns plain data (``CellFunction``), so it can be pickled
to another process or machine.
"""

from __future__ import annotations

import time
from concurrent.futures import Future, as_completed
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping, Protocol, Sequence

from modelcheck.engine import cluster_client
from modelcheck.runner import natural_order, spec_files
from modelcheck.spec import SpecError, bind, load_spec

# (spec file, parameters, policy, options) -> the rung's result as plain data (a dict with at least "verdict")
CellFunction = Callable[[str, dict[str, Any], str, dict[str, Any]], dict[str, Any]]
CLIMBS = ("holds",)  # the verdicts after which a cell goes on to its next rung


class Executor(Protocol):
    """What a nightly run needs of an executor: ``concurrent.futures.Executor`` and Dask's ``Client`` both."""

    def submit(self, fn: Callable[..., Any], /, *args: Any) -> Any: ...


class SynchronousExecutor:
    """Runs each submitted call at once, in this process: the executor of a run without --workers (a time limit
    is then enforced by the search's own clock and timer signal, which need the main thread)."""

    def submit(self, fn: Callable[..., Any], /, *args: Any) -> "Future[Any]":
        future: Future[Any] = Future()
        try:
            future.set_result(fn(*args))
        except Exception as err:  # the future carries it, as a pool's would
            future.set_exception(err)
        return future

    def shutdown(self, wait: bool = True) -> None:
        """Nothing runs in the background."""


@dataclass(frozen=True)
class Cell:
    """One spec under one policy, with the spec's bound ladder (whole parameter sets, easiest first)."""

    spec: str          # the spec file, as given
    spec_id: str
    title: str
    policy: str
    expected: str | None
    rungs: tuple[dict[str, Any], ...]


@dataclass
class Climb:
    """What one cell did tonight: every rung it ran, in order (each the cell function's plain result, with its
    ``params``), and the error that ended it if its function raised; a rung tried twice is in ``attempts``
    once, its second try."""

    cell: Cell
    attempts: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    retried: list[dict[str, Any]] = field(default_factory=list)  # first tries cut off by their share, tried again

    @property
    def reached(self) -> dict[str, Any] | None:
        """The last rung that finished (a verdict of holds or violated, whatever was expected): the bound the
        cell is reported at. A rung cut off by the budget is not one."""
        done = [a for a in self.attempts if a["verdict"] in ("holds", "violated")]
        return done[-1] if done else None

    @property
    def rung(self) -> int:
        """1-based index of the rung reached; 0 when none was."""
        reached = self.reached
        return 0 if reached is None else self.attempts.index(reached) + 1


def executor_for(workers: int | None, scheduler: str | None) -> tuple[Any, Callable[[Iterable[Any]], Iterator[Any]],
                                                                   int, Callable[[], None]]:
    """The executor a night runs on, the function that yields its futures as they complete, how many rungs may
    run at once, and how to close it: this process (neither given), or a Dask cluster (``cluster_client``): a
    LocalCluster of ``workers`` processes here, or the cluster at ``scheduler``. Dask retries a cell whose worker
    was lost; a cell that keeps failing is a failed cell, never one that holds (``climb``)."""
    if scheduler is None and not workers:
        return SynchronousExecutor(), as_completed, 1, lambda: None
    stack = ExitStack()
    client = stack.enter_context(cluster_client(workers=workers or None, scheduler=scheduler))
    from distributed import as_completed as as_they_complete  # installed: cluster_client would have refused

    slots = workers or max(1, sum(client.nthreads().values()))
    return _Retrying(client), as_they_complete, slots, stack.close


class _Retrying:
    """A Dask client whose tasks are run again once if their worker is lost, and never taken for pure
    functions (a cell's result depends on the clock it is given)."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def submit(self, fn: Callable[..., Any], *args: Any) -> Any:
        return self.client.submit(fn, *args, pure=False, retries=1)


def plan(paths: Sequence[str]) -> list[Cell]:
    """The cells of the specs ``paths`` (default: ./specs/*.py), each spec under each of its policies, in catalogue
    order. Every rung
    of every ladder is bound here, so a rung the world refuses is a usage error before anything runs."""
    cells: list[Cell] = []
    seen: dict[str, Path] = {}
    for path in spec_files(paths):
        spec = load_spec(path)
        if spec.id in seen:
            raise SpecError(path, f"spec id {spec.id!r} is also the id of {seen[spec.id]}: a nightly record "
                                  "names cells by spec id")
        seen[spec.id] = path
        rungs = tuple(spec.rungs())
        loaded = None
        for n, params in enumerate(rungs, start=1):
            try:
                bound = bind(path, spec, [f"{k}={v}" for k, v in params.items()])
            except SpecError as err:
                raise SpecError(path, f"ladder rung {n}: {err.message}") from None
            loaded = loaded or bound
        assert loaded is not None
        cells += [Cell(spec=str(path), spec_id=spec.id, title=spec.title, policy=policy,
                       expected=spec.expected(policy), rungs=rungs) for policy in loaded.policies()]
    return sorted(cells, key=lambda cell: natural_order(cell.spec_id))  # the matrix's order; stable per spec


def climb(cells: Sequence[Cell], budget: float, executor: Executor, run: CellFunction,
          options: Mapping[str, Any] | None = None, slots: int = 1,
          completed: Callable[[Iterable[Any]], Iterator[Any]] = as_completed,
          clock: Callable[[], float] = time.monotonic,
          progress: Callable[[Climb, dict[str, Any]], None] = lambda climb, attempt: None) -> list[Climb]:
    """Climb every cell's ladder within ``budget`` seconds, ``slots`` rungs at a time; one ``Climb`` per cell,
    in the order of ``cells``. ``run`` gets ``options`` plus ``time_limit``, its share of the budget left.

    A rung cut off by its share (less than all that was left) is tried once more after every other cell at
    that rung has had its first try, sharing what is then left with the others cut off: a share is a guess, and
    a cell is not to be skipped for the guess when the budget had room for it."""
    deadline = clock() + budget
    climbs = [Climb(cell) for cell in cells]
    waiting = {i for i, cell in enumerate(cells) if cell.rungs}  # cells whose next rung may start
    again: set[int] = set()  # of them, those whose next rung is tried a second time
    running: dict[Any, tuple[int, float, float]] = {}  # future -> cell, its time limit, the budget then left
    stop = False

    def turn(i: int) -> tuple[int, bool, int]:
        return len(climbs[i].attempts), i in again, i

    while True:
        while not stop and waiting and len(running) < slots and (left := deadline - clock()) > 0:
            i = min(waiting, key=turn)  # the smallest unfinished rung first, second tries after first ones
            peers = sum(1 for j in waiting if turn(j)[:2] == turn(i)[:2])  # this one among them
            waiting.discard(i)
            params = dict(cells[i].rungs[len(climbs[i].attempts)])
            share = left * min(1.0, slots / peers)  # what a rung finishing early leaves goes to those after it
            future = executor.submit(run, cells[i].spec, params, cells[i].policy,
                                     {**(options or {}), "time_limit": share})
            running[future] = (i, share, left)
        if not running:
            for i in again:  # the budget ran out before its second try: the first was its last
                climbs[i].attempts.append(climbs[i].retried.pop())
            return climbs
        future = next(iter(completed(list(running))))
        i, share, left = running.pop(future)
        entry = climbs[i]
        params = dict(cells[i].rungs[len(entry.attempts)])
        try:
            attempt = {**future.result(), "params": params}
        except Exception as err:  # the cell function failed: the cell stops there, the night goes on
            entry.error = f"{type(err).__name__}: {err}"
            attempt = {"verdict": "error", "params": params, "error": entry.error}
        stop = stop or bool(attempt.get("interrupted"))
        if attempt["verdict"] == "incomplete" and share < left and i not in again and not stop:
            entry.retried.append(attempt)
            again.add(i)
            waiting.add(i)
            continue
        again.discard(i)
        entry.attempts.append(attempt)
        progress(entry, attempt)
        if attempt["verdict"] in CLIMBS and not attempt.get("vacuous") and len(entry.attempts) < len(cells[i].rungs):
            waiting.add(i)
