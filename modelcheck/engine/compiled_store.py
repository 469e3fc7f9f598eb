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

from typing import TYPE_CHECKING, Any, Callable

from modelcheck.engine.errors import NotSearchable
from modelcheck.engine.stores import _GROWTH, _KEY_BLOCK, _MAX_LOAD, STORES, CompactStore, _row_keys, \
    row_fingerprints

if TYPE_CHECKING:
    import numpy as np
else:
    from modelcheck.engine._lazy import numpy as np

_KERNELS: dict[str, Callable[..., Any]] = {}
WARM = 1024  # rows whose slots are touched before they are inserted (a few hundred KiB: within a core's cache)


def _kernels() -> dict[str, Callable[..., Any]]:
    """The compiled loops, made (or loaded from numba's cache) on first use."""
    if _KERNELS:
        return _KERNELS
    try:
        import numba
        import numpy as real_np  # (the loops need the module itself, not the lazy stand-in)
    except ImportError:
        raise NotSearchable("the compiled store needs numba (pip install numba); use --store compact") from None

    @numba.njit(cache=True, nogil=True, inline="always")
    def home(fp: Any, cap: Any) -> Any:
        """A fingerprint's first slot: its low 32 bits scaled to the table (a multiply, not a division). Not
        the high bits, which choose the worker that owns it (``stores.owner_of``): in a worker's table they
        are not uniform."""
        return real_np.int64(((fp & real_np.uint64(0xFFFFFFFF)) * cap) >> real_np.uint64(32))

    @numba.njit(cache=True, nogil=True)
    def insert(hashes: Any, where: Any, log: Any, log_count: int, fps: Any, rows: Any, new: Any,
               sink: Any) -> int:
        """Insert each row of ``rows`` (fingerprints ``fps``) not yet in the table; its log index is the next
        free row of ``log``. Marks ``new``; returns the rows in the log now. The caller leaves room for all.
        ``sink`` takes a sum of the touched words, so that the compiler keeps the loads that touch them.

        A block of rows at a time: first every row's slot, its log index and the row that names are touched
        (loads that do not wait on each other, so the memory system fetches them side by side), then the
        rows are inserted in order, now mostly from the cache."""
        cap = real_np.uint64(hashes.shape[0])
        width = rows.shape[1]
        n = fps.shape[0]
        touched = real_np.uint64(0)
        for start in range(0, n, WARM):
            stop = min(n, start + WARM)
            for i in range(start, stop):
                slot = home(fps[i], cap)
                touched += hashes[slot] + log[where[slot], 0]
            for i in range(start, stop):
                fp = fps[i]
                slot = home(fp, cap)
                while True:
                    here = hashes[slot]
                    if here == 0:
                        hashes[slot] = fp
                        where[slot] = log_count
                        for c in range(width):
                            log[log_count, c] = rows[i, c]
                        log_count += 1
                        new[i] = True
                        break
                    if here == fp:
                        at = real_np.int64(where[slot])
                        same = True
                        for c in range(width):
                            if log[at, c] != rows[i, c]:
                                same = False
                                break
                        if same:
                            break
                    slot += 1
                    if slot == hashes.shape[0]:
                        slot = real_np.int64(0)
        sink[0] += touched
        return log_count

    @numba.njit(cache=True, nogil=True)
    def rehash(old_hashes: Any, old_where: Any, hashes: Any, where: Any) -> None:
        """Move every entry of the old table to the new one (distinct states: no comparison)."""
        cap = real_np.uint64(hashes.shape[0])
        for i in range(old_hashes.shape[0]):
            fp = old_hashes[i]
            if fp == 0:
                continue
            slot = home(fp, cap)
            while hashes[slot] != 0:
                slot += 1
                if slot == hashes.shape[0]:
                    slot = real_np.int64(0)
            hashes[slot] = fp
            where[slot] = old_where[i]

    @numba.njit(cache=True, nogil=True)
    def fingerprint(rows: Any, keys: Any, out: Any) -> None:
        """``stores.row_fingerprints`` of each row, in one pass: the same two keyed sums and mixes, bit for bit
        (so a worker of another store, or a checkpoint, agrees with it)."""
        m1 = real_np.uint64(0xBF58476D1CE4E5B9)
        m2 = real_np.uint64(0x94D049BB133111EB)
        golden = real_np.uint64(0x9E3779B97F4A7C15)
        for i in range(rows.shape[0]):
            a = real_np.uint64(0)
            b = real_np.uint64(0)
            for c in range(rows.shape[1]):
                v = real_np.uint64(rows[i, c])
                a += v * keys[0, c]
                b += v * keys[1, c]
            a = (a ^ (a >> real_np.uint64(30))) * m1
            a = (a ^ (a >> real_np.uint64(27))) * m2
            a = a ^ (a >> real_np.uint64(31))
            b = b ^ golden
            b = (b ^ (b >> real_np.uint64(30))) * m1
            b = (b ^ (b >> real_np.uint64(27))) * m2
            b = b ^ (b >> real_np.uint64(31))
            x = a ^ ((b << real_np.uint64(32)) | (b >> real_np.uint64(32)))
            x = (x ^ (x >> real_np.uint64(30))) * m1
            x = (x ^ (x >> real_np.uint64(27))) * m2
            x = x ^ (x >> real_np.uint64(31))
            out[i] = x if x != 0 else real_np.uint64(1)

    @numba.njit(cache=True, nogil=True)
    def moved(after: Any, before: Any, parents: Any, keep: Any) -> int:
        """The successors that differ from the state they came from (row ``parents[i]`` of ``before``), in
        ``keep``; returns how many."""
        n = 0
        for i in range(after.shape[0]):
            p = parents[i]
            for c in range(after.shape[1]):
                if after[i, c] != before[p, c]:
                    keep[n] = i
                    n += 1
                    break
        return n

    _KERNELS.update(insert=insert, rehash=rehash, fingerprint=fingerprint, moved=moved)
    return _KERNELS


def available() -> bool:
    """Whether numba can be imported here (else the numpy stores serve)."""
    try:
        import numba  # noqa: F401
    except ImportError:
        return False
    return True


def compiled_row_fingerprints(rows: np.ndarray) -> np.ndarray:
    """``stores.row_fingerprints``, compiled (the same values). The loop is compiled for 16-bit rows, which
    is what the packed stores keep; other rows are narrowed first, or fingerprinted by numpy if they do not fit."""
    if rows.dtype != np.uint16:
        if rows.size and (rows.min() < 0 or rows.max() > 0xFFFF):
            return row_fingerprints(rows)
        rows = rows.astype(np.uint16)
    keys = _row_keys(-(-rows.shape[1] // _KEY_BLOCK))
    out = np.empty(len(rows), dtype=np.uint64)
    _kernels()["fingerprint"](np.ascontiguousarray(rows), keys, out)
    return out


def compiled_moved(after: np.ndarray, before: np.ndarray, parents: np.ndarray) -> np.ndarray:
    """The indices of the successor rows ``after`` that differ from the row of ``before`` each came from
    (``parents``): the others are their parents, stored already, and need no lookup."""
    keep = np.empty(len(after), dtype=np.int64)
    n = _kernels()["moved"](after, before, parents, keep)
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
    """Exact: ``CompactStore``'s table and log, filled by one compiled loop per batch."""

    name = "compiled"
    compiled = True
    fingerprint_rows = staticmethod(compiled_row_fingerprints)  # the batch form's rows, fingerprinted compiled
    moved_rows = staticmethod(compiled_moved)

    def __init__(self, key_bytes: int, capacity: int = 1 << 10) -> None:
        super().__init__(key_bytes, capacity)
        self.kernels = _kernels()
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
            log.reserve(end - at)
            before = log.count
            log.count = self.kernels["insert"](self.hashes, self.where, log.array, before, fps[at:end],
                                               rows[at:end], new[at:end], self._sink)
            self.count += log.count - before
            at = end
        return new

    def _resize(self, capacity: int) -> None:
        old_hashes, old_where = self.hashes, self.where
        self.hashes = np.zeros(capacity, dtype=np.uint64)
        self.where = np.zeros(capacity, dtype=np.uint32)
        self.capacity = capacity
        self.kernels["rehash"](old_hashes, old_where, self.hashes, self.where)

    @property
    def nbytes(self) -> int:
        return self.hashes.nbytes + self.where.nbytes + self.log.nbytes

    @classmethod
    def restored(cls, row_bytes: int, saved: dict[str, Any]) -> "CompiledStore":
        store = cls(row_bytes)
        rows, hashes = saved["rows"], saved["hashes"]
        if len(rows):
            store._insert_rows(np.ascontiguousarray(hashes, dtype=np.uint64), np.ascontiguousarray(rows))
        store.lookups = saved["lookups"]
        return store
