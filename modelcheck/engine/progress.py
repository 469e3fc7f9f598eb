"""Progress of a long run on stderr (tqdm), shown only when it is worth it.

The bar appears after a second (tqdm's ``delay``), only when stderr is a
terminal, and never with ``quiet``; closing it erases it, so the report
starts on a clean line. The search calls ``update`` every few
thousand states, never per transition.
"""

from __future__ import annotations

import sys
from typing import TextIO


class Progress:
    """Receives periodic figures from a search; the default shows nothing."""

    def start(self, title: str) -> None:
        pass

    def update(self, *, states: int, transitions: int, frontier: int, depth: int) -> None:
        pass

    def close(self) -> None:
        pass


class TqdmProgress(Progress):
    """A tqdm counter of distinct states with frontier, depth and speed."""

    def __init__(self, stream: TextIO | None = None, delay: float = 1.0) -> None:
        self._stream = stream or sys.stderr
        self._delay = delay
        self._bar = None

    def start(self, title: str) -> None:
        from tqdm import tqdm  # imported here: quiet runs never pay for it

        tqdm.monitor_interval = 0  # no monitor thread: worker processes are started as copies of this one

        self._bar = tqdm(desc=title, unit=" states", unit_scale=True, file=self._stream,
                         delay=self._delay, dynamic_ncols=True, leave=False,
                         mininterval=0, miniters=0)  # the search already reports only every so often

    def update(self, *, states: int, transitions: int, frontier: int, depth: int) -> None:
        bar = self._bar
        if bar is None:
            return
        bar.set_postfix_str(f"frontier={frontier:,} depth={depth} transitions={transitions:,}", refresh=False)
        # update(), not a forced refresh: it keeps the delay, and a bar it drew is one close() erases
        bar.update(states - bar.n)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def progress_for(quiet: bool, stream: TextIO | None = None) -> Progress:
    """A visible bar only when the user can see it and did not ask for quiet."""
    stream = stream or sys.stderr
    if quiet or not stream.isatty():
        return Progress()
    return TqdmProgress(stream)
