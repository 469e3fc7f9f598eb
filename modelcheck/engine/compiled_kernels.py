"""The compiled store's loops (numba), at module level so that numba's cache holds their machine code.

A closure's compiled code cannot be cached: each process would compile it again. This module imports numba
at its top and is imported only by the runs that use the compiled store (``compiled_store`` loads it on first
use), so a run that never touches it never pays for numba.

A slot of the table is one 64-bit word: the fingerprint's low 32 bits (its *tag*) above the index of the
state in the log plus one; 0 is an empty slot. A slot's home is the tag scaled to the table, so a table can
be grown from the tags alone, and a probe reads one word, not a hash and an index in two arrays. The tag
rules out most slots of other states; the row in the log decides, so the store stays exact.
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np

WARM = 1024  # rows whose slots are touched before they are inserted (a few hundred KiB: within a core's cache)
LOW = np.uint64(0xFFFFFFFF)
SHIFT = np.uint64(32)
MAX_ROWS = 0xFFFFFFFE  # log indices a slot can name (the index plus one fills the low 32 bits)

jit = numba.njit(cache=True, nogil=True)  # (the hints say Any: numba types the loops from their arguments)


@numba.njit(cache=True, nogil=True, inline="always")
def home(tag: Any, cap: Any) -> Any:
    """A tag's first slot: scaled to the table (a multiply, not a division). Not the fingerprint's high bits,
    which choose the worker that owns it (``stores.owner_of``): in a worker's table they are not uniform."""
    return np.int64((tag * cap) >> SHIFT)


@jit
def insert(slots: Any, log: Any, log_count: int, fps: Any, rows: Any, new: Any, sink: Any) -> int:
    """Insert each row of ``rows`` (fingerprints ``fps``) not yet in the table; its log index is the next free
    row of ``log``. Marks ``new``; returns the rows in the log now. The caller leaves room for all. ``sink``
    takes a sum of the touched words, so that the compiler keeps the loads that touch them.

    A block of rows at a time: first every row's slot and the row it names are touched (loads that do not wait
    on each other, so the memory system fetches them side by side), then the rows are inserted in order, now
    mostly from the cache."""
    cap = np.uint64(slots.shape[0])
    width = rows.shape[1]
    n = fps.shape[0]
    touched = np.uint64(0)
    for start in range(0, n, WARM):
        stop = min(n, start + WARM)
        for i in range(start, stop):
            here = slots[home(fps[i] & LOW, cap)]
            named = np.int64(here & LOW) - 1  # -1: an empty slot, which names no row (row 0 is touched)
            touched += here + log[max(named, 0), 0]
        for i in range(start, stop):
            tag = fps[i] & LOW
            slot = home(tag, cap)
            while True:
                here = slots[slot]
                if here == 0:
                    slots[slot] = (tag << SHIFT) | np.uint64(log_count + 1)
                    for c in range(width):
                        log[log_count, c] = rows[i, c]
                    log_count += 1
                    new[i] = True
                    break
                if (here >> SHIFT) == tag:
                    at = np.int64(here & LOW) - 1
                    same = True
                    for c in range(width):
                        if log[at, c] != rows[i, c]:
                            same = False
                            break
                    if same:
                        break
                slot += 1
                if slot == slots.shape[0]:
                    slot = np.int64(0)
    sink[0] += touched
    return log_count


@jit
def rehash(old: Any, slots: Any) -> None:
    """Move every entry of the old table to the new one (distinct states: no comparison)."""
    cap = np.uint64(slots.shape[0])
    for i in range(old.shape[0]):
        entry = old[i]
        if entry == 0:
            continue
        slot = home(entry >> SHIFT, cap)
        while slots[slot] != 0:
            slot += 1
            if slot == slots.shape[0]:
                slot = np.int64(0)
        slots[slot] = entry


@jit
def tags_by_row(slots: Any, upto: int, tags: Any) -> None:
    """The tag of each of the first ``upto`` rows of the log (for a checkpoint)."""
    for i in range(slots.shape[0]):
        entry = slots[i]
        at = np.int64(entry & LOW) - 1
        if 0 <= at < upto:
            tags[at] = entry >> SHIFT


_HELPER: dict[str, Any] = dict(cache=True, nogil=True, no_cpython_wrapper=True)
helper = numba.njit(**_HELPER)  # called from the loops only: no wrapper for Python to call it by


@helper
def _mix(x: Any) -> Any:
    """The splitmix64 finaliser (``stores._mix``)."""
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


@helper
def _fingerprint_of(rows: Any, i: Any, keys: Any) -> Any:
    """``stores.row_fingerprints`` of row ``i``, bit for bit: two keyed sums, mixed (so a worker of another
    store, or a checkpoint, agrees with it)."""
    a = np.uint64(0)
    b = np.uint64(0)
    for c in range(rows.shape[1]):
        v = np.uint64(rows[i, c])
        a += v * keys[0, c]
        b += v * keys[1, c]
    a = _mix(a)
    b = _mix(b ^ np.uint64(0x9E3779B97F4A7C15))
    x = _mix(a ^ ((b << SHIFT) | (b >> SHIFT)))
    return x if x != 0 else np.uint64(1)


@jit
def fingerprint(rows: Any, keys: Any, out: Any) -> None:
    """``stores.row_fingerprints`` of each row."""
    for i in range(rows.shape[0]):
        out[i] = _fingerprint_of(rows, i, keys)


@jit
def moved_fingerprints(after: Any, before: Any, parents: Any, keys: Any, rows: Any, fps: Any) -> int:
    """The successors that differ from the state they came from (row ``parents[i]`` of ``before``), copied to
    ``rows`` with their fingerprints in ``fps``, in one pass; returns how many. A successor equal to its parent
    is stored already and needs no look-up."""
    n = 0
    for i in range(after.shape[0]):
        p = parents[i]
        for c in range(after.shape[1]):
            if after[i, c] != before[p, c]:
                for d in range(after.shape[1]):
                    rows[n, d] = after[i, d]
                fps[n] = _fingerprint_of(after, i, keys)
                n += 1
                break
    return n
