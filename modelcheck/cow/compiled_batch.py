"""The open reference world's batch form as one compiled loop (numba): a state at a time, every transition.

``ReferenceBatch`` applies each action family to the states of a batch that
enable it, as numpy operations: a pass over the batch per family, per
address and per process, each paying numpy's call overhead on a few
thousand rows. Here one loop takes each state in turn and writes all its
successors, with their action numbers and the checks they violate, straight
into the output arrays as the compact stores keep rows (16 bits a column).

The kernel's rules are not restated here either: the policy's decisions are
the tables ``ReferenceBatch`` builds by asking the policy, and the value tags
and leak tables are its too. What this loop restates is the column
arithmetic of ``ReferenceBatch`` (each helper below names the routine it
mirrors), and the differential tests hold it to the per-state model on every
reachable state of the grid points and narrowed worlds they cover, under
every policy, as they hold the numpy form.

The loop is ``compiled_loop.expand``; numba compiles it on first use and
caches the machine code beside that module (``cache=True``). Every world
shares the one compiled loop, since the world's sizes and tables are its
arguments, never constants compiled in.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from modelcheck.cow.batch import _SPURIOUS, BatchExpansion, ReferenceBatch
from modelcheck.cow.batch_scope import batch_applies

if TYPE_CHECKING:
    from modelcheck.cow.model import CowModel


def numba_present() -> bool:
    """Whether numba can be imported here (the compiled forms need it; without it the numpy ones serve)."""
    try:
        import numba  # noqa: F401
    except ImportError:
        return False
    return True


class CompiledReferenceBatch(ReferenceBatch):
    """``ReferenceBatch`` whose ``expand`` is one compiled loop (built by ``for_model`` with numba present)."""

    @staticmethod
    def for_model(model: "CowModel") -> "CompiledReferenceBatch | None":  # type: ignore[override]
        """The compiled form of ``model``, where the numpy form applies (the same scope), else None."""
        names = frozenset(p.name for p in model.properties())
        return CompiledReferenceBatch(model) if batch_applies(model.kernel, model.policy, names) else None

    def __init__(self, model: "CowModel") -> None:
        super().__init__(model)
        from modelcheck.cow import compiled_loop as loop

        self.loop = loop.expand
        at, config = {name: i for i, name in enumerate(loop.AT)}, loop.CONFIG
        L = self.layout
        leak_names = sorted(self._allowed)
        assert len(leak_names) < 8, "a transition's flags are one byte: a bit a leak check, and one for spurious"
        self._leak_names = leak_names
        on = self.on
        values = dict(P=self.P, M=self.M, S=self.S, pages=self.pages, width=L.size, pte_base=L.pte_base,
                      pipe_base=L.pipe_base, value_base=L.value_base, spec_base=L.spec_base,
                      flags_base=L.flags_base, pipes=self.pipes, exclusive=self.exclusive,
                      fresh_exclusive=model.policy.uses_exclusive, write=on["write"], read=on["read"],
                      munmap=on["munmap"], vmsplice=on["vmsplice"], pipe_read=on["pipe_read"], fork=on["fork"],
                      spec_get=model.kernel.spec_get_on, spec_put=model.kernel.spec_put_on,
                      leak_checks=len(leak_names), spurious_bit=len(leak_names))
        self._cfg = np.array([int(values[name]) for name in config], dtype=np.int64)
        codes = int(self._tags.max()) + 1
        self._allowed_all = np.ones((max(1, len(leak_names)), self.P, codes), dtype=np.bool_)
        for i, name in enumerate(leak_names):
            self._allowed_all[i] = self._allowed[name]
        self._number_actions(loop, at)

    def _number_actions(self, loop, at: dict[str, int]) -> None:
        """Every action the loop can take, numbered ahead (the numpy form numbers them as they first fire)."""
        model = self.model
        ops = model.open_ops
        self._at_ids = np.full((self.P, self.M, len(at)), -1, dtype=np.int32)
        for p in range(self.P):
            for a in range(self.M):
                write, read, unmap, splice = ops.at[p][a]
                row = self._at_ids[p, a]
                if self.on["write"]:
                    for branch in ("write", "reuse", "copy"):
                        row[at[branch]] = self._id(write.act(branch))
                if self.on["read"]:
                    row[at["read"]] = self._id(read)
                if self.on["munmap"]:
                    row[at["munmap"]] = self._id(unmap.act("munmap"))
                if self.on["vmsplice"] and self.pipes:
                    for branch in loop.AT[loop.aGUP:]:
                        row[at[branch]] = self._id(splice.act(branch))
        self._other_ids = np.full((self.P, 3), -1, dtype=np.int32)
        for p in range(self.P):
            if self.on["pipe_read"] and self.pipes:
                self._other_ids[p, loop.PIPE_READ] = self._id(ops.pipe_reads[p].act("pipe_read"))
        if self.on["fork"]:
            self._other_ids[0, loop.FORK_SHARE] = self._id(ops.fork.act("fork_share"))
            self._other_ids[0, loop.FORK_COPY] = self._id(ops.fork.act("fork_copy"))
        self._spec_ids = np.full((self.pages, 2), -1, dtype=np.int32)
        if self.S:
            for g in range(self.pages):
                if model.kernel.spec_get_on:
                    self._spec_ids[g, 0] = self._id(model.kernel_operation("spec_get", g).act("spec_get"))
                if model.kernel.spec_put_on:
                    self._spec_ids[g, 1] = self._id(model.kernel_operation("spec_put", g).act("spec_put"))

    def most_successors(self) -> int:
        """The most transitions one state can have: per mapped address four, per pipe one, a fork, and a
        speculative get and put per page slot."""
        return self.P * (4 * self.M + 1) + 1 + 2 * self.pages * (1 if self.S else 0)

    def expand(self, rows: np.ndarray) -> BatchExpansion:
        """Every enabled transition of every state of ``rows``; the successors come as 16-bit rows."""
        if rows.dtype != np.uint16:  # the loop is compiled for the rows the packed stores keep
            if rows.size and (rows.min() < 0 or rows.max() > 0xFFFF):
                raise ValueError("a compact store needs every state to be a flat tuple of ints in 0..65535")
            rows = rows.astype(np.uint16)
        if not rows.flags.c_contiguous or not rows.flags.writeable:  # (a read-only array is another
            rows = np.array(rows)  # type to numba: the loop would be compiled twice)
        n, width = rows.shape
        room = n * self.most_successors()
        out = np.empty((room, width), dtype=np.uint16)
        parents = np.empty(room, dtype=np.int64)
        actions = np.empty(room, dtype=np.int32)
        flags = np.empty(room, dtype=np.uint8)
        k = self.loop(rows, self._cfg, self._write_fault, self._fork_copy, self._gup_first, self._unshare_keep,
                      self._tags, self._allowed_all, self._at_ids, self._other_ids, self._spec_ids, out, parents,
                      actions, flags)
        flags = flags[:k]
        failed: dict[str, np.ndarray] = {}
        counted: dict[str, int] = {}
        for i, name in enumerate(self._leak_names):
            failed[name] = np.flatnonzero(flags & (1 << i))
        spurious = np.flatnonzero(flags & (1 << len(self._leak_names))) if flags.any() else \
            np.zeros(0, dtype=np.int64)
        for name in _SPURIOUS:
            if name in self.checks:
                if name == "spurious_copies":
                    counted[name] = int(spurious.size)
                else:
                    failed[name] = spurious
        return BatchExpansion(parents[:k], actions[:k], out[:k], failed, counted)
