"""What can end a search other than its verdict, in one module every part of the engine can import."""

from __future__ import annotations

from enum import Enum


class StopReason(Enum):
    """Why a run ended. Two endings are complete (the verdict is final); every other one leaves it
    incomplete unless a violation was found first. ``Run.stop_sentence`` renders each in words."""

    EXHAUSTED = "exhausted"              # everything reachable was searched
    FIRST_VIOLATION = "first violation"  # a violation was found and the run stops at the first
    STATE_LIMIT = "state limit"
    TIME_LIMIT = "time limit"
    MEMORY_LIMIT = "memory limit"        # the resident set passed the limit, or a store would not fit in it
    OUT_OF_MEMORY = "out of memory"      # the allocator refused before the limit was reached
    DEPTH_BOUND = "depth bound"          # a bounded search met its bound with runs still longer
    INTERRUPTED = "interrupted"          # Ctrl-C
    SOLVER_GAVE_UP = "solver gave up"    # z3 answered unknown
    TOO_MANY_VALUES = "too many values"  # symbolic execution met a value with too many possibilities
    WALKS_DONE = "walks done"            # a simulation ran all its walks (it never proves anything)

    @property
    def complete(self) -> bool:
        return self in (StopReason.EXHAUSTED, StopReason.FIRST_VIOLATION)


class Stopped(Exception):
    """Raised inside a strategy to end the run (the first violation, a limit, the user)."""

    def __init__(self, reason: StopReason, detail: str = "") -> None:
        super().__init__(reason.value)
        self.reason = reason
        self.detail = detail


class Declined(Exception):
    """A strategy found, while running, that it cannot search this model (DPOR: an execution returned to
    one of its states); the driver then runs the next strategy that accepts, with this as a note."""


class NotSearchable(ValueError):
    """No strategy asked for accepts the model (a usage error: the reason says what the model lacks)."""


class WorkerFailed(RuntimeError):
    """A worker process of a run with several failed or vanished (its traceback, as text, when it had one)."""


class ClusterUnavailable(RuntimeError):
    """A cluster asked for cannot be had: its scheduler cannot be reached, its address is not one, or Dask is
    not installed (one line, for the command line to print as a usage error)."""


class EnginesDisagree(RuntimeError):
    """A counterexample one engine found does not replay on the model itself."""
