"""What a search is asked to do: one set of options for every strategy.

Each option is checked here for what it is on its own (a positive number);
whether a strategy can honour a combination is the strategy's to say
(``Strategy.options_error``), so a new strategy brings its own rules.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

MAX_COUNT = 2**63 - 1          # a count past this fits no 64-bit counter (the packed stores count in them)
MAX_TIME_LIMIT = 366 * 86_400  # seconds: a run is not planned for more than a year (omit the limit instead)
WORKERS_PER_CPU = 4
MOST_WORKERS = 64


def max_workers() -> int:
    """The most worker processes this machine can run: a few per processor, at most ``MOST_WORKERS``, and
    within the limit on processes and threads (each worker forwards to every other through a queue with a
    thread of its own, so n workers need about n * (n + 2) threads)."""
    bound = min(MOST_WORKERS, WORKERS_PER_CPU * (os.cpu_count() or 1))
    try:
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_NPROC)
    except (ImportError, AttributeError, OSError):
        return bound
    if soft != resource.RLIM_INFINITY:
        while bound > 1 and bound * (bound + 2) > soft // 2:
            bound -= 1
    return bound


@dataclass(frozen=True)
class SearchOptions:
    strategy: str = "bfs"     # a registered strategy's name (``engine.strategies``)
    stop_at_first: bool = True
    max_states: int | None = None
    time_limit: float | None = None
    reduce: bool = False      # apply the reductions the model offers (its ``canonical`` state, for symmetry)
    store: str | None = None  # a registered store; None: the strategy picks (``stores.store_for``)
    workers: int = 1          # processes, each owning a hash partition of the store
    depth: int | None = None  # the most steps a counterexample may have (bmc), or a walk (simulate)
    settings: tuple[tuple[str, int], ...] = ()  # (name, value) of settings the strategy declares
    max_memory: int | None = None  # bytes this process may hold (several workers share them); None: no limit
    checkpoint: str | None = None  # a file to save the search to, every ``checkpoint_every`` seconds and on a stop
    checkpoint_every: float = 60.0
    resume: str | None = None      # a checkpoint to continue the search from (docs/checkpoints.md)
    dask_workers: int | None = None  # shards on a Dask cluster started on this machine, one per worker process
    scheduler: str | None = None     # the address of a running Dask cluster's scheduler, one shard per worker
    minimize: bool = False  # shrink each counterexample to a shortest one (strategies that find them first: no-op)

    @property
    def on_cluster(self) -> bool:
        """The search runs on a Dask cluster (``engine.strategies.cluster``), not in this machine's processes."""
        return self.dask_workers is not None or self.scheduler is not None

    def setting(self, name: str, default: int) -> int:
        return dict(self.settings).get(name, default)

    def __post_init__(self) -> None:
        from modelcheck.engine.stores import STORES
        from modelcheck.engine.strategies import STRATEGIES

        if self.strategy not in STRATEGIES:
            raise ValueError(f"unknown search strategy {self.strategy!r} (known: {', '.join(STRATEGIES)})")
        if self.store is not None and self.store not in STORES:
            raise ValueError(f"unknown store {self.store!r} (known: {', '.join(STORES)})")
        for name, value in (("workers", self.workers), ("max_states", self.max_states), ("depth", self.depth)):
            if value is not None:
                _whole(name, value, 1, MAX_COUNT)
        if self.workers > 1 and self.workers > (most := max_workers()):
            raise ValueError(f"workers must be at most {most} on this machine ({WORKERS_PER_CPU} per processor, "
                             f"at most {MOST_WORKERS}, within the limit on processes), not {self.workers}")
        if self.dask_workers is not None:
            _whole("--dask-workers", self.dask_workers, 1, MAX_COUNT)
            if self.dask_workers > (most := max_workers()):
                raise ValueError(f"--dask-workers starts that many processes on this machine: at most {most} here, "
                                 f"not {self.dask_workers} (join a bigger cluster with --scheduler ADDRESS)")
        if self.scheduler is not None and not self.scheduler.strip():
            raise ValueError("--scheduler needs the address of a Dask scheduler, e.g. tcp://host:8786")
        if self.dask_workers is not None and self.scheduler is not None:
            raise ValueError("--dask-workers starts a cluster on this machine, --scheduler joins one: not both")
        if self.on_cluster and self.workers > 1:
            raise ValueError("--workers runs processes forked on this machine, --dask-workers and --scheduler run "
                             "on a Dask cluster: choose one")
        strategy = STRATEGIES[self.strategy]
        if self.on_cluster and not strategy.clusters:
            raise ValueError(f"{strategy.summary} search does not run on a Dask cluster "
                             "(--dask-workers and --scheduler need breadth-first search, --bfs)")
        declared = dict(strategy.settings)
        for name, value in self.settings:
            if name not in declared:
                raise ValueError(f"--{name} is not a setting of {strategy.summary} (its settings: "
                                 f"{', '.join('--' + n for n in declared) or 'none'})")
            _whole(f"--{name}", value, 0, MAX_COUNT)
        if self.time_limit is not None:
            limit = self.time_limit
            if isinstance(limit, bool) or not isinstance(limit, (int, float)):
                raise ValueError(f"time_limit must be a number of seconds, not {limit!r}")
            if not math.isfinite(limit) or limit <= 0:  # nan compares false with everything: ask for finite first
                raise ValueError(f"time_limit must be a positive number of seconds, not {limit}")
            if limit > MAX_TIME_LIMIT:
                raise ValueError(f"time_limit must be at most {MAX_TIME_LIMIT:,} seconds (a year), not {limit:g}; "
                                 "omit it for no limit")
        if self.max_memory is not None and self.max_memory < 2 ** 20:
            raise ValueError(f"max_memory must be at least 1 MiB, not {self.max_memory} bytes")
        if not math.isfinite(self.checkpoint_every) or self.checkpoint_every <= 0:
            raise ValueError(f"checkpoint_every must be positive (and finite), not {self.checkpoint_every:g}")
        if (self.checkpoint or self.resume) and not strategy.checkpoints:
            raise ValueError(f"{strategy.summary} cannot save or resume checkpoints "
                             "(--checkpoint and --resume need breadth-first search, --bfs)")
        problem = strategy.options_error(self)
        if problem:
            raise ValueError(problem)


def _whole(name: str, value: object, least: int, most: int) -> None:
    """A whole number within [least, most]: a bool, a float or a number no counter holds is refused here,
    not deep in a search."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be a whole number, not {value!r}")
    if value < least:
        raise ValueError(f"{name} must {'not be negative' if least == 0 else f'be at least {least}'}, not "
                         f"{value if value > -10**20 else f'a {len(str(value)) - 1}-digit negative number'}")
    if value > most:
        raise ValueError(f"{name} must be at most {most:,}, not "
                         f"{f'{value:,}' if value < 10**20 else f'a {len(str(value))}-digit number'}")
