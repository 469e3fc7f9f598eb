"""The exact packed store as one compiled loop (numba): probe, compare and append fused, a state at a time.

``CompactStore`` does the same in numpy passes over a batch (fingerprints, probe, compare, copy), each a
call whose overhead a batch of a few thousand rows does not pay back, and a probe that collides goes round
again as a whole batch. Here one loop per batch takes each state to its slot, compares it with the row the
slot names in the log, and appends it if it is new; a batch's equal states are found as in ``CompactStore``
(the first is new, the later ones find it). The table is laid out the same: a 64-bit hash and a 32-bit log
index a slot, linear probing, grown by 1.6x at 80% load, so the bytes a state are the same too (only a
slot's home differs: the hash's low 32 bits scaled to the table, a multiply where numpy divides).

The store also offers the level search two compiled steps of its own: the batch form's rows fingerprinted
(to ``row_fingerprints``' values) and the successors equal to their parents found (``moved_rows``).

numba compiles the loops on first use and caches the machine code beside this file (``cache=True``), so
only the first run on a machine pays the compilation. Without numba the store says so when it is opened.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

from modelcheck.engine.errors import NotSearchable
from modelcheck.engine.stores import _GROWTH, _KEY_BLOCK, _MAX_LOAD, STORES, CompactStore, _row_keys, \
    row_fingerprints

if TYPE_CHECKING:
    import numpy as np
else:
    from modelcheck.engine._lazy import numpy as np

@cache
def _kernels() -> Any:
    """The compiled loops' module (``compiled_kernels``), imported on first use: numba loads their machine
    code from its cache, or compiles it the first time on a machine."""
    try:
        from modelcheck.engine import compiled_kernels
    except ImportError:
        raise NotSearchable("the compiled store needs numba (pip install numba); use --store compact") from None
    return compiled_kernels


def available() -> bool:
    """Whether numba can be imported here (else the numpy stores serve)."""
    try:
        import numba  # noqa: F401
    except ImportError:
        return False
    return True


def _writable(rows: np.ndarray) -> np.ndarray:
    """``rows`` as a writable C-ordered array: numba types a read-only array (``np.frombuffer`` of bytes) as
    another type, for which it would compile the loop again."""
    if rows.flags.c_contiguous and rows.flags.writeable:
        return rows
    return np.array(rows)


def compiled_row_fingerprints(rows: np.ndarray) -> np.ndarray:
    """``stores.row_fingerprints``, compiled (the same values). The loop is compiled for 16-bit rows, which
    is what the packed stores keep; other rows are narrowed first, or fingerprinted by numpy if they do not fit."""
    if rows.dtype != np.uint16:
        if rows.size and (rows.min() < 0 or rows.max() > 0xFFFF):
            return row_fingerprints(rows)
        rows = rows.astype(np.uint16)
    keys = _row_keys(-(-rows.shape[1] // _KEY_BLOCK))
    out = np.empty(len(rows), dtype=np.uint64)
    _kernels().fingerprint(_writable(rows), keys, out)
    return out


def compiled_moved(after: np.ndarray, before: np.ndarray, parents: np.ndarray) -> np.ndarray:
    """The indices of the successor rows ``after`` that differ from the row of ``before`` each came from
    (``parents``): the others are their parents, stored already, and need no lookup."""
    keep = np.empty(len(after), dtype=np.int64)
    after, before = _writable(after), _writable(before)
    n = _kernels().moved(after, before, parents, keep)
    return keep[:n]


class _FlatLog:
    """The states in the order they were stored, as one array grown by 1.6x in place (the compiled loop appends
    to it directly); the interface of ``stores.StateLog``. ``ndarray.resize`` reallocates: for a large array the
    C library remaps its memory (mremap) instead of copying it, so growing needs no second copy of the log. No
    view of the array outlives a call (``rows`` copies), as that requires."""

    def __init__(self, row_bytes: int, capacity: int = 1 << 10) -> None:
        self.row_bytes = row_bytes
        self.array = np.empty((capacity, row_bytes), dtype=np.uint8)
        self.count = 0

    def reserve(self, more: int) -> None:
        """Room for ``more`` rows beyond those stored."""
        need = self.count + more
        if need > len(self.array):
            self.array.resize((max(need, int(len(self.array) * _GROWTH) + 1), self.row_bytes), refcheck=False)

    def rows(self, indices: np.ndarray) -> np.ndarray:
        return self.array[indices]

    def span(self, start: int, end: int) -> np.ndarray:
        return self.array[start:end].copy()

    @property
    def nbytes(self) -> int:
        return self.count * self.row_bytes


@STORES.register
class CompiledStore(CompactStore):
    """Exact: a table of one word a slot (a tag and a log index, ``compiled_kernels``) and a log of the
    states, filled by one compiled loop per batch."""

    name = "compiled"
    compiled = True
    slot_bytes = 8
    fingerprint_rows = staticmethod(compiled_row_fingerprints)  # the batch form's rows, fingerprinted compiled
    moved_rows = staticmethod(compiled_moved)

    def __init__(self, key_bytes: int, capacity: int = 1 << 10) -> None:
        self.kernels = _kernels()
        self.capacity, self.count, self.lookups = capacity, 0, 0
        self.key_bytes = key_bytes
        self.slots = np.zeros(capacity, dtype=np.uint64)
        self.log = _FlatLog(key_bytes)  # type: ignore[assignment]
        self._sink = np.zeros(1, dtype=np.uint64)

    def insert(self, fps: np.ndarray, packed: bytes) -> np.ndarray:
        n = len(fps)
        rows = np.frombuffer(packed, dtype=np.uint8).reshape(n, self.key_bytes)
        return self._insert_rows(np.ascontiguousarray(fps, dtype=np.uint64), rows)

    def _insert_rows(self, fps: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """As ``_Table._insert``: in slices that fit below the load limit, growing only when the table is full
        (most of a batch is usually seen already)."""
        n = len(fps)
        self.lookups += n
        new = np.zeros(n, dtype=bool)
        rows = _writable(rows)
        log = self.log
        assert isinstance(log, _FlatLog)
        at = 0
        while at < n:
            room = int(_MAX_LOAD * self.capacity) - self.count
            if room <= 0:
                capacity = int(self.capacity * _GROWTH) + 1
                self._afford(capacity)
                self._resize(capacity)
                continue
            end = min(n, at + room)
            if log.count + end - at > self.kernels.MAX_ROWS:
                raise NotSearchable(f"the compiled store names at most {self.kernels.MAX_ROWS:,} states")
            log.reserve(end - at)
            before = log.count
            log.count = self.kernels.insert(self.slots, log.array, before, fps[at:end], rows[at:end],
                                            new[at:end], self._sink)
            self.count += log.count - before
            at = end
        return new

    def _resize(self, capacity: int) -> None:
        old = self.slots
        self.slots = np.zeros(capacity, dtype=np.uint64)
        self.capacity = capacity
        self.kernels.rehash(old, self.slots)

    @property
    def nbytes(self) -> int:
        return self.slots.nbytes + self.log.nbytes

    def saved(self, upto: int, lookups: int) -> dict[str, Any]:
        """The first ``upto`` states of the log and their tags (all this store keeps of a fingerprint, and all
        it needs), for a checkpoint."""
        tags = np.zeros(upto, dtype=np.uint64)
        self.kernels.tags_by_row(self.slots, upto, tags)
        return {"rows": self.log.span(0, upto), "tags": tags, "lookups": lookups}

    @classmethod
    def restored(cls, row_bytes: int, saved: dict[str, Any]) -> "CompiledStore":
        store = cls(row_bytes)
        if "tags" not in saved:
            raise NotSearchable("this checkpoint was saved by another store; resume it with that --store")
        rows = saved["rows"]
        if len(rows):
            store._insert_rows(saved["tags"], np.ascontiguousarray(rows))
        store.lookups = saved["lookups"]
        return store
