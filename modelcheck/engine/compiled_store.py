"""The exact packed store as one compiled loop (numba): probe, compare and append fused, a state at a time.

``CompactStore`` does the same in numpy passes over a batch (fingerprints, probe, compare, copy), each a
call whose overhead a batch of a few thousand rows does not pay back, and a probe that collides goes round
again as a whole batch. Here one loop per batch takes each state to its slot, compares it with the row the
slot names in the log, and appends it if it is new; a batch's equal states are found as in ``CompactStore``
(the first is new, the later ones find it). A slot is one 64-bit word, a tag of the fingerprint and the
state's index in the log (``compiled_kernels``): 8 bytes where ``CompactStore`` keeps 12. Linear probing,
grown by 1.6x at 80% load, as there.

The store also offers the level search two compiled steps of its own: the batch form's rows fingerprinted
(to ``row_fingerprints``' values), and the successors to look up found and fingerprinted in one pass
(``successors_to_look_up``).

numba compiles the loops on first use and caches the machine code beside ``compiled_kernels`` (``cache=True``),
so only the first run on a machine pays the compilation; on that run they compile in a second process while
the run compiles the world's loops (``compile_aside``). Without numba the store says so when it is opened.
"""

from __future__ import annotations

import mmap
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelcheck.engine.errors import NotSearchable
from modelcheck.engine.stores import _GROWTH, _MAX_LOAD, STORES, CompactStore, _keys_for, row_fingerprints

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


def warm_up(row_bytes: int) -> None:
    """Compile (or load) every loop of the store for rows of ``row_bytes``, with the array types a run passes:
    its own functions on a few made-up rows (what ``CompiledStore.compile_aside``'s process runs)."""
    width = row_bytes // 2
    rows = np.arange(8 * width, dtype=np.uint16).reshape(8, width)
    compiled_row_fingerprints(rows)
    _, fps = compiled_successors_to_look_up(rows[::-1].copy(), rows, np.arange(8, dtype=np.int64))
    store = CompiledStore(row_bytes, capacity=8)  # 8 slots: the rows fill them past the load limit (a rehash)
    store._insert_rows(fps, np.zeros((len(fps), row_bytes), dtype=np.uint8))


def _cold(kernels: Any) -> bool:
    """Whether numba's cache has none of the store's loops yet (a machine's first run, or a new version)."""
    try:
        return not any(Path(loop._cache._cache_file._index_path).exists()
                       for loop in (kernels.insert, kernels.rehash, kernels.fingerprint, kernels.moved_fingerprints))
    except AttributeError:  # (another numba's cache: compile in the run, as on a warm one)
        return False


def available() -> bool:
    """Whether numba can be imported here (else the numpy stores serve)."""
    try:
        import numba  # noqa: F401
    except ImportError:
        return False
    return True


def _word(row_bytes: int) -> Any:
    """The widest unsigned word that divides a row: the loop compares and copies rows a word at a time (a row
    of 38 bytes in 19 steps, not 38)."""
    return next(np.dtype(w) for w in (np.uint64, np.uint32, np.uint16, np.uint8)
                if row_bytes % np.dtype(w).itemsize == 0)


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
    keys = _keys_for(rows.shape[1])
    out = np.empty(len(rows), dtype=np.uint64)
    _kernels().fingerprint(_writable(rows), keys, out)
    return out


def compiled_successors_to_look_up(after: np.ndarray, before: np.ndarray,
                                   parents: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``_Table.successors_to_look_up`` in one compiled pass: the successor rows ``after`` that differ from the
    row of ``before`` each came from (``parents``), and their fingerprints."""
    after, before = _writable(after), _writable(before)
    if after.dtype != np.uint16 or before.dtype != np.uint16:
        return CompactStore.successors_to_look_up(after, before, parents)
    rows = np.empty_like(after)
    fps = np.empty(len(after), dtype=np.uint64)
    keys = _keys_for(after.shape[1])
    parents = np.ascontiguousarray(parents, dtype=np.int64)
    n = _kernels().moved_fingerprints(after, before, parents, keys, rows, fps)
    return rows[:n], fps[:n]


_LARGE = 1 << 21  # mappings smaller than one 2 MiB mapping are not advised (they would gain nothing)


def _anonymous(nbytes: int) -> mmap.mmap:
    """Zeroed private anonymous memory of ``nbytes``, asked to be backed by 2 MiB mappings where the host's
    transparent huge mappings allow it (MADV_HUGEPAGE; ignored where they are off). A probe lands anywhere in a
    table of tens of MiB, so with 4 KiB mappings a probe may miss the TLB as well."""
    memory = mmap.mmap(-1, max(nbytes, 1), flags=mmap.MAP_PRIVATE)
    _advise(memory)
    return memory


def _advise(memory: mmap.mmap) -> None:
    if len(memory) >= _LARGE:
        try:
            memory.madvise(mmap.MADV_HUGEPAGE)
        except (AttributeError, OSError):  # (a system without them: 4 KiB mappings serve)
            pass



def _zeros(n: int, dtype: Any) -> np.ndarray:
    """``np.zeros(n, dtype)`` in ``_anonymous`` memory (the array keeps the mapping alive)."""
    return np.frombuffer(_anonymous(n * np.dtype(dtype).itemsize), dtype=dtype, count=n)


class _FlatLog:
    """The states in the order they were stored, as one array grown by 1.6x in place (the compiled loop appends
    to it directly); the interface of ``stores.StateLog``. The array lies in one anonymous mapping which grows
    by mremap (``mmap.resize``): the system moves the mapping instead of copying the rows, so growing needs no
    second copy of the log. No view of the array outlives a call (``rows`` and ``span`` copy), as that
    requires."""

    def __init__(self, row_bytes: int, capacity: int = 1 << 10) -> None:
        self.row_bytes = row_bytes
        self.memory = _anonymous(capacity * row_bytes)
        self.array = self._view(capacity)
        self.count = 0

    def _view(self, capacity: int) -> np.ndarray:
        return np.frombuffer(self.memory, dtype=np.uint8, count=capacity * self.row_bytes).reshape(
            capacity, self.row_bytes)

    def reserve(self, more: int) -> None:
        """Room for ``more`` rows beyond those stored."""
        need = self.count + more
        if need > len(self.array):
            capacity = max(need, int(len(self.array) * _GROWTH) + 1)
            del self.array
            self.memory.resize(capacity * self.row_bytes)
            _advise(self.memory)
            self.array = self._view(capacity)

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
    successors_to_look_up = staticmethod(compiled_successors_to_look_up)

    def __init__(self, key_bytes: int, capacity: int = 1 << 10) -> None:
        self.kernels = _kernels()
        self.capacity, self.count, self.lookups = capacity, 0, 0
        self.key_bytes = key_bytes
        self.word = _word(key_bytes)
        self.slots = _zeros(capacity, np.uint64)
        self.log = _FlatLog(key_bytes)  # type: ignore[assignment]
        self._sink = np.zeros(1, dtype=np.uint64)

    @classmethod
    def compile_aside(cls, row_bytes: int) -> subprocess.Popen[bytes] | None:
        """On a cold cache, a process that compiles the store's loops into it while this one compiles the
        world's (on another core: together they take the time of the longer); None on a warm cache."""
        if not _cold(_kernels()):
            return None
        program = f"from modelcheck.engine.compiled_store import warm_up; warm_up({int(row_bytes)})"
        return subprocess.Popen([sys.executable, "-c", program], stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

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
        words = _writable(rows).view(self.word)
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
            log.count = self.kernels.insert(self.slots, log.array.view(self.word), before, fps[at:end],
                                            words[at:end], new[at:end], self._sink)
            self.count += log.count - before
            at = end
        return new

    def _resize(self, capacity: int) -> None:
        old = self.slots
        self.slots = _zeros(capacity, np.uint64)
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
            store._insert_rows(saved["tags"], rows)
        store.lookups = saved["lookups"]
        return store
