"""Value tags: the value a page holds names the write that produced it."""

from __future__ import annotations

from typing import Sequence


class ValueTags:
    """Value codes name the write that produced a value.

    Open worlds (the reference world): 1 + n is the parent's write after its
    n-th fork (1 = the initial contents), P + i a write by child i.
    Scripted worlds: 1 + k*P + n is the k-th write operation of the scenario
    (k = 0: the initial contents), done by the parent after n forks (n = 0
    for a child's write), so that every write is told apart.
    """

    def __init__(self, processes: int, writers: Sequence[tuple[int, str]] | None = None) -> None:
        self.P = processes
        self.writers = writers  # scripted: (process, "thread step n: operation") per write, index k - 1

    def code(self, proc: int, nforks: int, write_op: int = 0) -> int:
        if self.writers is None:
            return 1 + nforks if proc == 0 else self.P + proc
        return 1 + write_op * self.P + (nforks if proc == 0 else 0)

    def decode(self, code: int) -> tuple[int, int]:
        """(writer process, forks before the write) as reference-world.md pairs them."""
        if code <= 0:
            raise ValueError("a free page has no value")
        if self.writers is None:
            return (0, code - 1) if code <= self.P else (code - self.P, 0)
        k, n = divmod(code - 1, self.P)
        return (0, 0) if k == 0 else (self.writers[k - 1][0], n)

    def words(self, code: int) -> str:
        if code <= 0:
            return "nothing (a free page)"
        writer, n = self.decode(code)
        if self.writers is None or (code - 1) // self.P == 0:
            if writer == 0:
                return f"({writer},{n}) " + ("[initial contents]" if n == 0 else f"[the parent's write after fork {n}]")
            return f"({writer},{n}) [a write by child{writer}]"
        k = (code - 1) // self.P
        after = f", after fork {n}" if writer == 0 and n else ""
        return f"[{self.writers[k - 1][1]}{after}]"
