"""What a policy is: the kernel's decisions that changed from era to era.

The mechanisms of the world (faults, fork, GUP, ...) ask the policy; the policy
answers from the page's counters alone. A new policy is one new module in this
package that defines ``POLICY``; nothing else has to change.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from enum import Enum
from typing import ClassVar


class WriteFault(Enum):
    """do_wp_page's choice for a write fault on a present, write-protected anonymous page."""

    REUSE = "reuse"  # make the PTE writable and write into the same page
    COPY = "copy"    # allocate a new page, copy, map it writable; the old page loses this mapping


@dataclass(frozen=True, slots=True)
class PageCounts:
    """The counters the kernel reads when it decides, derived from the world's state.

    ``mapcount`` is the number of PTEs mapping the page (page_mapcount);
    ``refcount`` is page_count: one per mapping plus every other holder
    (pipe buffers, GUP references, speculative references).
    """

    mapcount: int
    refcount: int


class Policy(ABC):
    """Base of every policy: its identity, and the rules it sets."""

    name: ClassVar[str]
    release: ClassVar[str]          # the kernel releases that used the rule
    commits: ClassVar[tuple[str, ...]]  # the commit ids that introduced it
    summary: ClassVar[str]          # one line for `modelcheck policies`

    @abstractmethod
    def write_fault(self, page: PageCounts) -> WriteFault:
        """Reuse or copy on a write fault on a write-protected anonymous page."""

    def __repr__(self) -> str:
        return f"<policy {self.name}>"
