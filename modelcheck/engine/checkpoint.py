"""Checkpoints: a search saved to a file, to be continued by another process.

The engine knows nothing of what a search is of: a checkpoint is a header
(plain data its caller passes in, naming what was searched and how) and a body
(the caller's, holding the strategy's snapshot: the store, the frontier's
place, the counters, the violations found), pickled. The file is

    MAGIC  length (8 bytes, big-endian)  sha256 of the payload (32 bytes)  payload

so a truncated or damaged file is told from a good one before anything is
unpickled, and it is written atomically: to a temporary file in the same
directory, flushed to disk, renamed over the old one, and the directory flushed,
so a crash at any moment leaves the old checkpoint or the new one, never half
of one.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import struct
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

MAGIC = b"modelcheck checkpoint\n"
FORMAT = 1  # the layout of the header and body; a checkpoint of another format is refused
_LENGTH = struct.Struct(">Q")
_DIGEST = 32


class CheckpointError(ValueError):
    """A checkpoint that cannot be resumed: unreadable, damaged, truncated, or of another search."""


@dataclass
class Checkpoints:
    """What a search needs to save and resume itself (handed to ``check`` by its caller).

    ``save`` receives a snapshot (plain Python data and numpy arrays) and writes
    it; ``every`` is the seconds between saves; ``resumed`` the snapshot to
    continue from; ``requested`` says a stop signal arrived, upon which the
    search saves and stops where it can.
    """

    save: Callable[[Any], None]
    every: float = 60.0
    resumed: Any = None
    requested: Callable[[], bool] = lambda: False
    last: float = field(default_factory=time.monotonic)

    def due(self) -> bool:
        return time.monotonic() - self.last >= self.every

    def saved(self, snapshot: Any) -> None:
        self.save(snapshot)
        self.last = time.monotonic()


def write(path: str | os.PathLike[str], header: Mapping[str, Any], body: Any) -> int:
    """Write a checkpoint atomically; returns its size in bytes."""
    payload = pickle.dumps({"format": FORMAT, "header": dict(header), "body": body}, protocol=pickle.HIGHEST_PROTOCOL)
    target = Path(path)
    directory = target.parent if str(target.parent) else Path(".")
    fd, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(MAGIC + _LENGTH.pack(len(payload)) + hashlib.sha256(payload).digest())
            out.write(payload)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, target)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise
    try:
        dir_fd = os.open(directory, os.O_RDONLY)
    except OSError:  # a directory that cannot be opened (not POSIX): the rename is what there is
        pass
    else:
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    return len(MAGIC) + _LENGTH.size + _DIGEST + len(payload)


def read(path: str | os.PathLike[str], header: Mapping[str, Any]) -> Any:
    """The body of the checkpoint at ``path``, once its header matches ``header`` key by key."""
    name = str(path)
    try:
        data = Path(path).read_bytes()
    except OSError as err:
        raise CheckpointError(f"{name}: cannot read the checkpoint: {err.strerror}") from None
    if not data.startswith(MAGIC):
        raise CheckpointError(f"{name}: not a modelcheck checkpoint")
    at = len(MAGIC)
    if len(data) < at + _LENGTH.size + _DIGEST:
        raise CheckpointError(f"{name}: the checkpoint is truncated")
    (length,) = _LENGTH.unpack_from(data, at)
    digest = data[at + _LENGTH.size:at + _LENGTH.size + _DIGEST]
    payload = data[at + _LENGTH.size + _DIGEST:]
    if len(payload) != length:
        raise CheckpointError(f"{name}: the checkpoint is truncated ({len(payload):,} of {length:,} bytes)"
                              if len(payload) < length else f"{name}: the checkpoint has bytes past its end")
    if hashlib.sha256(payload).digest() != digest:
        raise CheckpointError(f"{name}: the checkpoint is damaged (its checksum does not match)")
    try:
        document = pickle.loads(payload)
    except Exception as err:  # noqa: BLE001 - a checksum-correct file of an older layout
        raise CheckpointError(f"{name}: the checkpoint cannot be read ({type(err).__name__})") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise CheckpointError(f"{name}: the checkpoint is of format {document.get('format')!r}, "
                              f"this version reads format {FORMAT}" if isinstance(document, dict)
                              else f"{name}: not a modelcheck checkpoint")
    saved = document.get("header", {})
    for key, value in header.items():
        if saved.get(key) != value:
            raise CheckpointError(f"{name}: the checkpoint is of another search: {key} was "
                                  f"{_shown(saved.get(key))}, now {_shown(value)}")
    return document.get("body")


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
