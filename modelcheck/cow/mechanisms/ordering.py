"""Ordering between threads and processes, as cow.c orders its parent and child: waitpid() and one-shot
tokens passed through pipes.

None of these touches memory: they only decide when a thread may go on. Each is
disabled (returns None) until what it waits for has happened, so a search
never takes it early; its enabledness reads the slot it waits on (the child's
mm, the token's), which is what a footprint of the step records.
"""

from __future__ import annotations

from modelcheck.cow.kernel import Kernel, MutableSlots
from modelcheck.cow.layout import MM_EXITED
from modelcheck.cow.registry import Branch, operation, outcome


class Ordering(Branch):
    WAIT = outcome("wait")
    SIGNAL = outcome("signal")
    AWAIT = outcome("await")


@operation("wait childN", Ordering, summary="waitpid(): returns once child N has exited (an exit in its program)",
           note="returns once child N has exited", needs=("mm",))
def op_wait(k: Kernel, t: MutableSlots, child: int) -> str | None:
    """Reaping the child changes nothing the model keeps: exit already dropped its mappings and references."""
    if not t[k.layout.mm_base + child] & MM_EXITED:
        return None
    return "wait"


@operation("signal T", Ordering, summary="marks the one-shot token T (a byte written into a pipe)")
def op_signal(k: Kernel, t: MutableSlots, token: int) -> str | None:
    t[k.layout.token_base + token] = 1
    return "signal"


@operation("await T", Ordering, summary="returns once some thread has signalled token T (the pipe's read)")
def op_await(k: Kernel, t: MutableSlots, token: int) -> str | None:
    if not t[k.layout.token_base + token]:
        return None
    return "await"
