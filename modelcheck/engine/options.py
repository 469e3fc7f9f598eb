"""What a search is asked to do: one set of options for every strategy.

Each option is checked here for what it is on its own (a positive number);
whether a strategy can honour a combination is the strategy's to say
(``Strategy.options_error``), so a new strategy brings its own rules.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

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
            if value is not None and value < 1:
                raise ValueError(f"{name} must be at least 1, not {value}")
        if self.workers > 1 and self.workers > (most := max_workers()):
            raise ValueError(f"workers must be at most {most} on this machine ({WORKERS_PER_CPU} per processor, "
                             f"at most {MOST_WORKERS}, within the limit on processes), not {self.workers}")
        strategy = STRATEGIES[self.strategy]
        declared = dict(strategy.settings)
        for name, value in self.settings:
            if name not in declared:
                raise ValueError(f"--{name} is not a setting of {strategy.summary} (its settings: "
                                 f"{', '.join('--' + n for n in declared) or 'none'})")
            if value < 0:
                raise ValueError(f"--{name} must not be negative, not {value}")
        if self.time_limit is not None and self.time_limit <= 0:
            raise ValueError(f"time_limit must be positive, not {self.time_limit}")
        if self.max_memory is not None and self.max_memory < 2 ** 20:
            raise ValueError(f"max_memory must be at least 1 MiB, not {self.max_memory} bytes")
        if self.checkpoint_every <= 0:
            raise ValueError(f"checkpoint_every must be positive, not {self.checkpoint_every:g}")
        if (self.checkpoint or self.resume) and not strategy.checkpoints:
            raise ValueError(f"{strategy.summary} cannot save or resume checkpoints "
                             "(--checkpoint and --resume need breadth-first search, --bfs)")
        problem = strategy.options_error(self)
        if problem:
            raise ValueError(problem)
