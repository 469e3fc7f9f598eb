"""Compact visited-state stores for the breadth-first search by levels.

Both stores are open-addressing hash tables in numpy arrays, filled a batch at a
time (a batch is the successors of a few thousand states), so that the Python
interpreter does one call per batch instead of one per state:

``CompactStore``      exact: each slot keeps a 64-bit hash and the whole state,
                      packed into fixed-width bytes. Two states are the same
                      only when their packed bytes are equal.
``FingerprintStore``  a slot keeps only a 64-bit fingerprint (8 bytes), as
                      TLC's and SPIN's hash-compact stores do. Two different
                      states with the same fingerprint are taken for one, so a
                      run may miss states; ``miss_probability`` bounds the chance
                      that it did.

Tables grow by 1.6x when they are 80% full, so a table never holds less than
half its slots in use: at most 16 bytes per state for fingerprints.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

_MAX_LOAD = 0.8
_GROWTH = 1.6
_EMPTY = np.uint64(0)

_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def fingerprints(hashes: Sequence[int]) -> np.ndarray:
    """64-bit fingerprints of states from their Python hashes.

    The tuple hash of small ints is a good 64-bit mix but its low bits, which
    choose the table slot, are weak; the splitmix64 finaliser (a bijection, so
    it adds no collisions) spreads them. 0 marks an empty slot, so it is moved.
    """
    x = np.fromiter(hashes, dtype=np.int64, count=len(hashes)).view(np.uint64)
    with np.errstate(over="ignore"):
        x = (x ^ (x >> np.uint64(30))) * _M1
        x = (x ^ (x >> np.uint64(27))) * _M2
        x = x ^ (x >> np.uint64(31))
    x[x == _EMPTY] = np.uint64(1)
    return x


def owner_of(fps: np.ndarray, partitions: int) -> np.ndarray:
    """Which of ``partitions`` workers owns each fingerprint (high bits, independent of the slot bits)."""
    return ((fps >> np.uint64(40)) % np.uint64(partitions)).astype(np.int64)


class _Table:
    """Open addressing with linear probing, inserted a batch at a time."""

    def __init__(self, capacity: int = 1 << 10) -> None:
        self.capacity = capacity
        self.count = 0
        self.lookups = 0
        self.hashes = np.zeros(capacity, dtype=np.uint64)

    # subclasses keep keys beside the hashes
    def _keys_equal(self, slots: np.ndarray, items: np.ndarray, keys: Any) -> np.ndarray:
        return np.ones(len(slots), dtype=bool)

    def _store_keys(self, slots: np.ndarray, items: np.ndarray, keys: Any) -> None:
        pass

    def _resize(self, capacity: int) -> None:
        raise NotImplementedError

    def _grow_for(self, incoming: int) -> None:
        if self.count + incoming > _MAX_LOAD * self.capacity:
            capacity = self.capacity
            while self.count + incoming > _MAX_LOAD * capacity:
                capacity = int(capacity * _GROWTH) + 1
            self._resize(capacity)

    def _insert(self, fps: np.ndarray, keys: Any) -> np.ndarray:
        """Insert a batch; True for each item that was not there before (first of equal items only)."""
        n = len(fps)
        self.lookups += n
        self._grow_for(n)
        new = np.zeros(n, dtype=bool)
        table, cap = self.hashes, np.uint64(self.capacity)
        pending = np.arange(n)
        slots = (fps % cap).astype(np.int64)
        while pending.size:
            here = table[slots]
            empty = here == _EMPTY
            same = here == fps[pending]
            if same.any():
                idx = np.flatnonzero(same)
                equal = self._keys_equal(slots[idx], pending[idx], keys)
                same[idx] = equal
            # items whose slot is empty: one per slot wins it, the rest look at that slot again
            e_items, e_slots = pending[empty], slots[empty]
            if e_items.size:
                won_slots, first = np.unique(e_slots, return_index=True)
                winners = e_items[first]
                table[won_slots] = fps[winners]
                self._store_keys(won_slots, winners, keys)
                new[winners] = True
                lost = np.ones(e_items.size, dtype=bool)
                lost[first] = False
                retry_items, retry_slots = e_items[lost], e_slots[lost]
                self.count += winners.size
            else:
                retry_items = retry_slots = np.empty(0, dtype=np.int64)
            busy = ~empty & ~same
            moved = slots[busy] + 1
            moved[moved == self.capacity] = 0
            pending = np.concatenate((pending[busy], retry_items))
            slots = np.concatenate((moved, retry_slots))
        return new

    @property
    def nbytes(self) -> int:
        return self.hashes.nbytes


class FingerprintStore(_Table):
    """Keeps 64-bit fingerprints only: 8 bytes a slot."""

    kind = "fingerprint"

    def insert(self, fps: np.ndarray, packed: bytes | None = None) -> np.ndarray:
        return self._insert(fps, None)

    def _resize(self, capacity: int) -> None:
        old = self.hashes[self.hashes != _EMPTY]
        self.capacity, self.count = capacity, 0
        self.hashes = np.zeros(capacity, dtype=np.uint64)
        self._insert(old, None)
        self.lookups -= old.size

    def miss_probability(self, lookups: int | None = None) -> float:
        """An upper bound on the chance that some reachable state was never explored.

        Each lookup of a state not yet stored is a false hit with probability at
        most (stored fingerprints) / 2**64, assuming fingerprints of distinct
        states behave as independent uniform 64-bit values (TLC's assumption).
        """
        lookups = self.lookups if lookups is None else lookups
        return min(1.0, lookups * self.count / 2.0 ** 64)


class CompactStore(_Table):
    """Exact: a 64-bit hash and the packed state per slot."""

    kind = "compact"

    def __init__(self, key_bytes: int, capacity: int = 1 << 10) -> None:
        super().__init__(capacity)
        self.key_bytes = key_bytes
        self.keys = np.zeros((capacity, key_bytes), dtype=np.uint8)

    def insert(self, fps: np.ndarray, packed: bytes) -> np.ndarray:
        rows = np.frombuffer(packed, dtype=np.uint8).reshape(len(fps), self.key_bytes)
        return self._insert(fps, rows)

    def _keys_equal(self, slots: np.ndarray, items: np.ndarray, keys: np.ndarray) -> np.ndarray:
        return (self.keys[slots] == keys[items]).all(axis=1)

    def _store_keys(self, slots: np.ndarray, items: np.ndarray, keys: np.ndarray) -> None:
        self.keys[slots] = keys[items]

    def _resize(self, capacity: int) -> None:
        used = self.hashes != _EMPTY
        old_fps, old_keys = self.hashes[used], self.keys[used]
        self.capacity, self.count = capacity, 0
        self.hashes = np.zeros(capacity, dtype=np.uint64)
        self.keys = np.zeros((capacity, self.key_bytes), dtype=np.uint8)
        self._insert(old_fps, old_keys)
        self.lookups -= old_fps.size

    @property
    def nbytes(self) -> int:
        return self.hashes.nbytes + self.keys.nbytes
