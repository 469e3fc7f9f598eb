"""How a world state is laid out in one flat tuple of small ints.

The tuple is exactly what reference-world.md counts, nothing more:

    (nforks, pte[p*M + a] for every process p and address a, pipe[p] for every p,
     value[g] for every page slot g, spec[g] for every page slot g when S > 0)

Which processes exist follows from nforks (slot i exists iff i <= nforks);
mapcount and refcount follow from the PTEs, pipes and spec, and are never stored.

Encodings (0 always means "nothing"):
  PTE    0 = none, else (page + 1) << 1 | writable
  pipe   0 = empty, else page + 1
  value  0 = free page, 1 + n = the parent's write after its n-th fork
         (1 = the initial contents), P + i = a write by child i
"""

from __future__ import annotations

from dataclasses import dataclass, field


def pte_make(page: int, writable: bool) -> int:
    return (page + 1) << 1 | int(writable)


def pte_page(pte: int) -> int:
    return (pte >> 1) - 1


def pte_writable(pte: int) -> bool:
    return bool(pte & 1)


@dataclass(frozen=True)
class Layout:
    """Offsets into the state tuple, for P processes, M addresses and S speculative references.

    The offsets are plain attributes computed once: the successor function reads
    them on every transition.
    """

    processes: int
    addresses: int
    speculative: int
    pages: int = field(init=False)       # enough slots for every mapping, pipe and speculative ref
    pte_base: int = field(init=False)
    pipe_base: int = field(init=False)
    value_base: int = field(init=False)
    spec_base: int = field(init=False)
    size: int = field(init=False)

    def __post_init__(self) -> None:
        P, M, S = self.processes, self.addresses, self.speculative
        pages = P * M + P + S
        pipe_base = 1 + P * M
        value_base = pipe_base + P
        spec_base = value_base + pages
        for name, value in (("pages", pages), ("pte_base", 1), ("pipe_base", pipe_base),
                            ("value_base", value_base), ("spec_base", spec_base),
                            ("size", spec_base + (pages if S else 0))):
            object.__setattr__(self, name, value)

    def pte_index(self, proc: int, addr: int) -> int:
        return 1 + proc * self.addresses + addr

    # -- value tags -------------------------------------------------------------
    def tag(self, proc: int, nforks: int) -> int:
        """The value a write by ``proc`` leaves: (0, nforks) for the parent, (proc, 0) for a child."""
        return 1 + nforks if proc == 0 else self.processes + proc

    def decode_tag(self, code: int) -> tuple[int, int]:
        """A value code as the (writer, n) pair of reference-world.md."""
        if code <= 0:
            raise ValueError("a free page has no value")
        if code <= self.processes:
            return (0, code - 1)
        return (code - self.processes, 0)
