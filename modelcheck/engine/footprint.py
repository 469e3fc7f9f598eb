"""Which state slots a step reads and writes, found by running the step on a state that takes notes.

Dynamic partial-order reduction needs, for each step, the locations it reads
and writes. Written by hand, such sets drift from the code they describe; so a
model can run the very code that takes the step (its enabledness test, its
decisions, its effect, then the properties that judge it) on a ``Tracked``
state, which records every slot index read or assigned. A value the code
derives from several slots is a read of every one of them, as it should be:
whatever the step decides depends on all of them.
"""

from __future__ import annotations

from typing import Any, Iterator


class Tracked:
    """A state (or a step's working copy of it) that notes the slots read and written.

    It offers what the mechanisms use of a list or tuple: indexing, slices,
    assignment, ``len`` and iteration (a read of everything).
    """

    __slots__ = ("values", "reads", "writes")

    def __init__(self, values: Any, reads: set[int], writes: set[int]) -> None:
        self.values = list(values)
        self.reads, self.writes = reads, writes

    def __getitem__(self, i: Any) -> Any:
        n = len(self.values)
        if i.__class__ is slice:
            self.reads.update(range(*i.indices(n)))
        else:
            self.reads.add(i % n)
        return self.values[i]

    def __setitem__(self, i: Any, value: Any) -> None:
        n = len(self.values)
        if i.__class__ is slice:
            self.writes.update(range(*i.indices(n)))
        else:
            self.writes.add(i % n)
        self.values[i] = value

    def __len__(self) -> int:
        return len(self.values)

    def __iter__(self) -> Iterator[int]:
        self.reads.update(range(len(self.values)))
        return iter(self.values)

    def copy(self) -> "Tracked":
        """The step's working copy: its reads and writes are the step's."""
        return Tracked(self.values, self.reads, self.writes)

    def frozen(self) -> tuple:
        return tuple(self.values)

    def __eq__(self, other: object) -> bool:  # the step's "did anything change" test reads nothing new
        return self.frozen() == (other.frozen() if isinstance(other, Tracked) else other)

    __hash__ = None  # type: ignore[assignment]
