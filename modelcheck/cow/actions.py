"""What fires in the COW world: actions, the operations they are branches of, and what an action observes."""

from __future__ import annotations

from typing import NamedTuple

from modelcheck.cow.kernel import Machine, Slots
from modelcheck.cow.layout import MM_EXITED, pte_page
from modelcheck.cow.mechanisms.tlb import tlb_page
from modelcheck.cow.registry import batch_twin, check_branch


class Act(NamedTuple):
    """An action that fired: its kind, who took it, its operands, and the branch the kernel took."""

    kind: str
    actor: str       # a thread or process name, or "kernel"
    proc: int = -1   # the process acting (-1 for a kernel event)
    addr: int = -1
    page: int = -1   # kernel events on a page
    holder: int = -1 # the scenario's GUP reference, by number
    text: str = ""   # the operation as the scenario wrote it
    cell: int = 0    # the part of the page a store or load touches
    last: bool = False  # the thread's last operation (a completed one ends the thread's program)
    branch: str = ""
    unknown: tuple[tuple[str, int], ...] = ()  # symbolic references: (u<page> or h<holder>, count) z3 found


OperationFields = tuple[str, str, int, int, int, int, str, int, bool]  # Act's fields up to the branch


class Operation:
    """An operation of the world (who, what, where), and its actions once a branch is known."""

    __slots__ = ("fields", "acts")

    def __init__(self, fields: OperationFields) -> None:
        self.fields = fields
        self.acts: dict[str, Act] = {}

    def act(self, branch: str) -> Act:
        """The interned action of this operation taking ``branch`` (built once per branch, when the branch
        is checked against the mechanisms' declarations)."""
        act = self.acts.get(branch)
        if act is None:
            check_branch(branch)
            act = self.acts[branch] = Act(*self.fields, branch)
        return act


class Observation(NamedTuple):
    """What an action saw: who (the owner, for a device read), where, which page, and the value."""

    observer: int
    addr: int  # -1 for a pipe read
    cell: int
    page: int
    value: int


def process_name(proc: int) -> str:
    return "parent" if proc == 0 else f"child{proc}"


@batch_twin("ReferenceBatch._observe")
def observation(m: Machine, s: Slots, act: Act) -> Observation | None:
    """What ``act`` observes in the state before it, or None when it observes nothing."""
    L = m.layout
    kind = act.kind
    if kind in ("read", "load"):
        page = -1
        if L.features.tlb:  # a cached translation wins over the PTE
            page = tlb_page(m, s, m.thread_number[act.actor], act.addr)
        if page < 0:
            pte = s[L.pte_index(act.proc, act.addr)]
            # an untouched address reads the zero page its read fault maps (a file's page, for a file mapping)
            page = pte_page(pte) if pte or act.addr not in m.fresh_addrs else \
                m.file_page if act.addr in m.file_maps else m.zero_page
        return Observation(act.proc, act.addr, act.cell, page, s[L.value_index(page, act.cell)])
    if kind == "pipe_read":
        page = s[L.pipe_base + act.proc] - 1
        return Observation(act.proc, -1, 0, page, s[L.value_index(page)])
    if kind == "dma_read":
        h = m.holders[act.holder]
        page = s[L.holder_base + act.holder] - 1
        return Observation(h.proc, h.addr, h.cell, page, s[L.value_index(page, h.cell)])
    return None


def process_alive(m: Machine, s: Slots, proc: int) -> bool:
    L = m.layout
    return proc <= s[0] and not (L.features.mm and s[L.mm_base + proc] & MM_EXITED)
