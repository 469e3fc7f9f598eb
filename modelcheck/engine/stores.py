"""The visited-state stores, behind one interface, each registered where it is written.

``DictStore``         exact: every state as the model's own object in a Python
                      dict, with the state it was first reached from and the
                      action, so a counterexample is a walk back (one state at a
                      time; any strategy).

The packed stores are open-addressing hash tables in numpy arrays, filled a batch
at a time (a batch is the successors of a few thousand states), so that the Python
interpreter does one call per batch instead of one per state; states must be flat
tuples of small ints, and a counterexample is rebuilt by searching again:

``CompactStore``      exact: each slot keeps a 64-bit hash and the index of the
                      whole state, packed into fixed-width bytes, in a log of
                      states. Two states are the same only when their packed
                      bytes are equal.
``FingerprintStore``  a slot keeps only a 64-bit fingerprint (8 bytes), as
                      TLC's and SPIN's hash-compact stores do. Two different
                      states with the same fingerprint are taken for one, so a
                      run may miss states; ``miss_probability`` bounds the chance
                      that it did.

Tables grow by 1.6x when they are 80% full, so a table never holds less than
half its slots in use: at most 16 bytes per state for fingerprints.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from functools import cache
from typing import TYPE_CHECKING, Any, ClassVar, Hashable, Protocol, Sequence

from modelcheck.engine.errors import NotSearchable, StopReason, Stopped
from modelcheck.engine.memory import mib, resident_bytes
from modelcheck.engine.registry import Registry

if TYPE_CHECKING:
    import numpy as np
else:
    from modelcheck.engine._lazy import numpy as np

_MAX_LOAD = 0.8
_SLICE = 1 << 18  # items inserted at once: bounds the temporaries (growing re-inserts the whole table)
_GROWTH = 1.6
_EMPTY = 0  # an empty slot (0 is never a fingerprint)


class Store(Protocol):
    """What every visited-state store is: a set of the states seen, with its size and, for a store that
    may take two states for one, a bound on the chance that it did."""

    name: ClassVar[str]
    packed: ClassVar[bool]  # states are rows of small ints, inserted a batch at a time (numpy)
    exact: ClassVar[bool]   # never takes two different states for one
    compiled: ClassVar[bool]  # a run over it uses compiled loops (the model's compiled batch form, if any)

    def __len__(self) -> int: ...

    @property
    def nbytes(self) -> int: ...

    def miss_probability(self) -> float | None: ...


STORES: Registry[Any] = Registry("store")


@STORES.register
class DictStore:
    """Exact, with back-pointers: each state once, with the state it was first reached from and how."""

    name = "dict"
    packed = False
    exact = True
    compiled = False

    def __init__(self) -> None:
        self.index: dict[Hashable, int] = {}
        self.states: list[Any] = []
        self.parent: list[int] = []
        self.via: list[Any] = []

    def __contains__(self, state: Hashable) -> bool:
        return state in self.index

    def add(self, state: Hashable, parent: int, action: Any) -> int:
        """Store ``state`` (not stored yet): its number."""
        sid = self.index[state] = len(self.states)
        self.states.append(state)
        self.parent.append(parent)
        self.via.append(action)
        return sid

    def path(self, sid: int) -> tuple[Any, list[tuple[Any, Any, Any]]]:
        """The initial state and the hops (before, action, after) that first reached state ``sid``."""
        ids = []
        while sid >= 0:
            ids.append(sid)
            sid = self.parent[sid]
        ids.reverse()
        hops = [(self.states[a], self.via[b], self.states[b]) for a, b in zip(ids, ids[1:])]
        return self.states[ids[0]], hops

    def __len__(self) -> int:
        return len(self.states)

    @property
    def nbytes(self) -> int:
        return 0  # Python objects: not measured

    def miss_probability(self) -> float | None:
        return None


def fingerprints(hashes: Sequence[int]) -> np.ndarray:
    """64-bit fingerprints of states from their Python hashes.

    The tuple hash of small ints is a good 64-bit mix but its low bits, which
    choose the table slot, are weak; the splitmix64 finaliser (a bijection, so
    it adds no collisions) spreads them. 0 marks an empty slot, so it is moved.
    """
    x = np.fromiter(hashes, dtype=np.int64, count=len(hashes)).view(np.uint64)
    with np.errstate(over="ignore"):
        x = _mix(x)
    x[x == _EMPTY] = np.uint64(1)
    return x


_KEY_SEED, _KEY_BLOCK = 0x6D6F64656C, 512


@cache
def _row_keys(blocks: int) -> Any:
    """Fixed random odd keys for ``blocks`` * 512 columns, the same in every worker process; the keys of a
    column do not depend on how wide the rows are."""
    parts = [np.random.default_rng(_KEY_SEED if block == 0 else (_KEY_SEED, block))
             .integers(1, 2 ** 63, size=(2, _KEY_BLOCK), dtype=np.uint64) for block in range(blocks)]
    return np.concatenate(parts, axis=1) | np.uint64(1)


def _keys_for(width: int) -> Any:
    """The keys of rows ``width`` columns wide (whole blocks of them)."""
    return _row_keys(-(-width // _KEY_BLOCK))


def row_fingerprints(rows: np.ndarray) -> np.ndarray:
    """64-bit fingerprints of states given as rows of small non-negative ints (any number of columns).

    Two multilinear sums with fixed random odd keys (mod 2**64): two rows collide in
    one sum with probability at most 2**-48 (entries below 2**16), in both at
    once with about 2**-96; the mix of the two is then a 64-bit fingerprint.
    The keys are fixed, so every worker process computes the same fingerprints.
    """
    x = rows.astype(np.uint64, copy=False)
    width = x.shape[1]
    with np.errstate(over="ignore"):
        keys = _keys_for(width)
        a = (x * keys[0, :width]).sum(axis=1, dtype=np.uint64)
        b = (x * keys[1, :width]).sum(axis=1, dtype=np.uint64)
        a = _mix(a)
        b = _mix(b ^ np.uint64(0x9E3779B97F4A7C15))
        x = _mix(a ^ ((b << np.uint64(32)) | (b >> np.uint64(32))))
    x[x == _EMPTY] = np.uint64(1)
    return x


def _mix(x: np.ndarray) -> np.ndarray:
    """The splitmix64 finaliser (a bijection of 64-bit values)."""
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def miss_probability(lookups: int, stored: int) -> float:
    """An upper bound on the chance that a fingerprint store missed some reachable state.

    Each lookup of a state not yet stored is a false hit with probability at
    most (stored fingerprints) / 2**64, assuming fingerprints of distinct states
    behave as independent uniform 64-bit values (TLC's assumption).
    """
    return min(1.0, lookups * stored / 2.0 ** 64)


def owner_of(fps: np.ndarray, partitions: int) -> np.ndarray:
    """Which of ``partitions`` workers owns each fingerprint (high bits, independent of the slot bits)."""
    return ((fps >> np.uint64(40)) % np.uint64(partitions)).astype(np.int64)


class _Table(ABC):
    """Open addressing with linear probing, inserted a batch at a time."""

    name: ClassVar[str]
    slot_bytes: ClassVar[int] = 8
    # how a run over this store fingerprints the batch form's rows (a store may compute the same values its own way)
    fingerprint_rows = staticmethod(row_fingerprints)
    compiled: ClassVar[bool] = False
    budget: int | None = None  # the bytes this process may hold: a table that would grow past it says so first

    @classmethod
    def compile_aside(cls, row_bytes: int) -> Any:
        """A process compiling this store's code while the run compiles the world's (``wait()`` for it), or
        None: nothing to compile."""
        return None

    @staticmethod
    def successors_to_look_up(after: np.ndarray, before: np.ndarray,
                              parents: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The batch form's successor rows ``after`` (of the rows ``before``, row ``parents[i]`` the parent of
        ``after[i]``) to look up, and their fingerprints: here all of them. A store that can do it cheaply
        leaves out those equal to their parents, which are stored already."""
        return after, row_fingerprints(after)

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

    @abstractmethod
    def _resize(self, capacity: int) -> None:
        """Move every entry to a table of ``capacity`` slots."""

    def _insert(self, fps: np.ndarray, keys: Any) -> np.ndarray:
        """Insert a batch; True for each item that was not there before (first of equal items only).

        The batch goes in slices that fit below the load limit, and the table
        grows only when it is full: most of a batch is usually seen already.
        """
        n = len(fps)
        new = np.zeros(n, dtype=bool)
        at = 0
        while at < n:
            room = int(_MAX_LOAD * self.capacity) - self.count
            if room <= 0:
                self._afford(int(self.capacity * _GROWTH) + 1)
                self._resize(int(self.capacity * _GROWTH) + 1)
                continue
            end = min(n, at + room, at + _SLICE)
            part = keys[at:end] if keys is not None else None
            new[at:end] = self._insert_fitting(fps[at:end], part)
            at = end
        return new

    def _afford(self, capacity: int) -> None:
        """Stop the run, with the estimate, when growing to ``capacity`` slots would pass the budget."""
        if self.budget is None:
            return
        needed = capacity * self.slot_bytes + self.count * self.slot_bytes  # the new table, and what moves in
        held = resident_bytes()
        if held + needed > self.budget:
            raise Stopped(StopReason.MEMORY_LIMIT,
                          f"the {self.name} store of {self.count:,} states would grow to {capacity:,} slots: "
                          f"{mib(needed)} more than the {mib(held)} resident")

    def _insert_fitting(self, fps: np.ndarray, keys: Any) -> np.ndarray:
        """Insert items that fit in the table without passing the load limit."""
        n = len(fps)
        self.lookups += n
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

    def __len__(self) -> int:
        return self.count


@STORES.register
class FingerprintStore(_Table):
    """Keeps 64-bit fingerprints only: 8 bytes a slot."""

    name = "fingerprint"
    packed = True
    exact = False

    @classmethod
    def opened(cls, row_bytes: int) -> "FingerprintStore":
        return cls()

    def insert(self, fps: np.ndarray, packed: bytes | None = None) -> np.ndarray:
        return self._insert(fps, None)

    def _resize(self, capacity: int) -> None:
        old = self.hashes[self.hashes != _EMPTY]
        self.hashes = np.zeros(0, dtype=np.uint64)  # freed before the larger table is made
        self.capacity, self.count = capacity, 0
        self.hashes = np.zeros(capacity, dtype=np.uint64)
        self._insert(old, None)
        self.lookups -= old.size

    def miss_probability(self) -> float | None:
        return miss_probability(self.lookups, self.count)

    def saved(self, without: np.ndarray | None, lookups: int) -> dict[str, Any]:
        """The fingerprints stored (less ``without``, those stored since the point being saved), for a checkpoint."""
        fps = self.hashes[self.hashes != _EMPTY]
        if without is not None and without.size:
            fps = fps[~np.isin(fps, without)]
        return {"fingerprints": fps, "lookups": lookups}

    @classmethod
    def restored(cls, row_bytes: int, saved: dict[str, Any]) -> "FingerprintStore":
        store = cls()
        store._insert(saved["fingerprints"], None)
        store.lookups = saved["lookups"]
        return store


class StateLog:
    """Packed states in the order they were stored, in fixed-size numpy blocks (no copy when it grows)."""

    BLOCK_BYTES = 1 << 28  # per block: few blocks, so gathering rows loops over few (untouched rows cost no memory)

    def __init__(self, row_bytes: int) -> None:
        self.row_bytes = row_bytes
        self.block_rows = max(1, min(1 << 21, self.BLOCK_BYTES // max(1, row_bytes)))
        self.blocks: list[np.ndarray] = []
        self.count = 0

    def append(self, rows: np.ndarray) -> np.ndarray:
        """Store rows; returns their indices."""
        first = self.count
        done = 0
        while done < len(rows):
            at = self.count % self.block_rows
            if at == 0:
                self.blocks.append(np.empty((self.block_rows, self.row_bytes), dtype=np.uint8))
            take = min(self.block_rows - at, len(rows) - done)
            self.blocks[-1][at:at + take] = rows[done:done + take]
            done += take
            self.count += take
        return np.arange(first, self.count, dtype=np.int64)

    def span(self, start: int, end: int) -> np.ndarray:
        """The rows ``start`` to ``end`` (a copy)."""
        return self.rows(np.arange(start, end, dtype=np.int64))

    def rows(self, indices: np.ndarray) -> np.ndarray:
        """The rows at ``indices`` (any order)."""
        if len(self.blocks) == 1:
            return self.blocks[0][indices]
        out = np.empty((len(indices), self.row_bytes), dtype=np.uint8)
        block_of = indices // self.block_rows
        for b in np.unique(block_of).tolist():
            pick = np.flatnonzero(block_of == b)
            out[pick] = self.blocks[b][indices[pick] - b * self.block_rows]
        return out

    @property
    def nbytes(self) -> int:
        """Bytes in use (a block's rows are only resident once written)."""
        return self.count * self.row_bytes


@STORES.register
class CompactStore(_Table):
    """Exact: per slot a 64-bit hash and the index of the packed state in a log of states.

    The log grows a block at a time and the table holds 12 bytes a slot, so
    growing the table never needs room for two copies of the states.
    """

    name = "compact"
    packed = True
    exact = True
    slot_bytes = 12  # a hash and the index of the state in the log

    @classmethod
    def opened(cls, row_bytes: int) -> "CompactStore":
        return cls(row_bytes)

    def miss_probability(self) -> float | None:
        return None

    def __init__(self, key_bytes: int, capacity: int = 1 << 10) -> None:
        super().__init__(capacity)
        self.key_bytes = key_bytes
        self.log = StateLog(key_bytes)
        self.where = np.zeros(capacity, dtype=np.uint32)

    def insert(self, fps: np.ndarray, packed: bytes) -> np.ndarray:
        rows = np.frombuffer(packed, dtype=np.uint8).reshape(len(fps), self.key_bytes)
        return self._insert(fps, rows)

    def _keys_equal(self, slots: np.ndarray, items: np.ndarray, keys: np.ndarray) -> np.ndarray:
        if isinstance(keys, _Moved):
            return np.zeros(len(slots), dtype=bool)
        return (self.log.rows(self.where[slots].astype(np.int64)) == keys[items]).all(axis=1)

    def _store_keys(self, slots: np.ndarray, items: np.ndarray, keys: np.ndarray) -> None:
        if isinstance(keys, _Moved):  # growing: the states are in the log already
            self.where[slots] = keys.where[items]
        else:
            self.where[slots] = self.log.append(keys[items])

    def _resize(self, capacity: int) -> None:
        used = self.hashes != _EMPTY
        old = _Moved(self.hashes[used], self.where[used])
        del used
        # freed before the larger table is made: never both at once
        self.hashes, self.where = np.zeros(0, dtype=np.uint64), np.zeros(0, dtype=np.uint32)
        self.capacity, self.count = capacity, 0
        self.hashes = np.zeros(capacity, dtype=np.uint64)
        self.where = np.zeros(capacity, dtype=np.uint32)
        self._insert(old.fps, old)
        self.lookups -= old.fps.size

    @property
    def nbytes(self) -> int:
        return self.hashes.nbytes + self.where.nbytes + self.log.nbytes

    def saved(self, upto: int, lookups: int) -> dict[str, Any]:
        """The first ``upto`` states of the log and their hashes, for a checkpoint (those stored later are
        left out: they belong to a level being expanded)."""
        used = self.hashes != _EMPTY
        where = self.where[used].astype(np.int64)
        keep = where < upto
        hashes = np.zeros(upto, dtype=np.uint64)
        hashes[where[keep]] = self.hashes[used][keep]
        return {"rows": self.log.rows(np.arange(upto, dtype=np.int64)), "hashes": hashes, "lookups": lookups}

    @classmethod
    def restored(cls, row_bytes: int, saved: dict[str, Any]) -> "CompactStore":
        store = cls(row_bytes)
        if "hashes" not in saved:
            raise NotSearchable("this checkpoint was saved by another store; resume it with that --store")
        rows, hashes = saved["rows"], saved["hashes"]
        if len(rows):
            store.log.append(rows)
        store._insert(hashes, _Moved(hashes, np.arange(len(hashes), dtype=np.uint32)))
        store.lookups = saved["lookups"]
        return store


class _Moved:
    """Entries being moved to a larger table: distinct, and already in the log."""

    def __init__(self, fps: np.ndarray, where: np.ndarray) -> None:
        self.fps, self.where = fps, where

    def __getitem__(self, part: slice) -> "_Moved":
        return _Moved(self.fps[part], self.where[part])


from modelcheck.engine import compiled_store  # noqa: E402,F401  (registers the "compiled" store)
