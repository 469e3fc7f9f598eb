"""The operations a scenario's program can name, as their mechanisms declare them (``registry``).

Importing this module imports every mechanism, so the table is complete. The
scenario grammar (``scenario.parse_op``), the dispatch of an operation to its
mechanism (``CowModel``), the features a world needs, the coverage universe
and the README's list of operations all read it.
"""

from __future__ import annotations

from typing import Callable, Iterable

from modelcheck.cow.mechanisms import PRESENTATION, cpu, events, fork, gup, ksm, migrate, swap
from modelcheck.cow.registry import OPERATIONS, Branch, Form, OperationDecl, declared, expected_of

__all__ = ["BRANCH_WORDS", "COVERED", "OPERATIONS", "PARTIAL", "Form", "OperationDecl", "kinds", "needed",
           "operation_list", "rank"]

COVERED = frozenset(name for name, branch in declared().items() if branch.covered)  # the branches coverage names
PARTIAL = frozenset(name for name, branch in declared().items() if branch.partial)  # leave a thread mid-operation
BRANCH_WORDS = {name: branch.words for name, branch in declared().items() if branch.words}
_RANK = {name: n for n, name in enumerate(declared())}


def rank(branch: Branch | str) -> int:
    """Where a branch comes among all declared ones (the order their mechanisms are declared in)."""
    return _RANK[branch]


# the open reference world's actions, by the mechanism that carries each out (a read changes nothing)
OPEN_ACTIONS: dict[str, Callable[..., str | None] | None] = {
    "write": cpu.op_store, "read": None, "munmap": fork.op_munmap, "vmsplice": gup.op_vmsplice,
    "pipe_read": gup.op_pipe_read, "fork": fork.op_fork}
# the kernel events, by their mechanism
KERNEL_EVENT_RUNS: dict[str, Callable[..., str | None]] = {
    "spec_get": events.op_spec, "spec_put": events.op_spec, "lru_drain": events.op_lru_drain,
    "lock_page": events.op_page_lock, "unlock_page": events.op_page_lock, "swap_add": swap.op_swap_add,
    "swap_unmap": swap.op_swap_unmap, "ksm_merge": ksm.op_ksm_merge, "writeback_end": swap.op_writeback_end,
    "migrate": migrate.op_migrate}


def expected(kind: str) -> tuple[Branch, ...]:
    """The policy branches a run with actions of ``kind`` should see fire, as their mechanism declares."""
    decl = OPERATIONS.get(kind)
    if decl is not None:
        return decl.expects
    run = OPEN_ACTIONS.get(kind) or KERNEL_EVENT_RUNS.get(kind)
    return expected_of(run) if run is not None else ()


def kinds(*forms: Form) -> frozenset[str]:
    """The operations written in one of ``forms`` (all of them when none is given)."""
    return frozenset(kind for kind, decl in OPERATIONS.items() if not forms or decl.form in forms)


def needed(used: Iterable[str]) -> frozenset[str]:
    """What the operations ``used`` need of the world's state (pipes, VMA flags, ...)."""
    return frozenset(need for kind in used for need in OPERATIONS[kind].needs)


def operation_list() -> str:
    """The README's list of operations (under "Writing a spec"), in the order they are declared: one entry
    per operation, those that differ in their kind only joined (``get_ro|get_rw|pin_ro|pin_rw aN -> NAME``)."""
    modules = [module.__name__ for module in PRESENTATION]

    def place(decl: OperationDecl) -> tuple[int, int]:
        return modules.index(decl.run.__module__), decl.run.__code__.co_firstlineno

    groups: list[tuple[list[str], OperationDecl]] = []
    for decl in sorted(OPERATIONS.values(), key=place):  # stable: kinds of one mechanism as declared
        kind = decl.kind
        last = groups[-1] if groups else None
        if last is not None and last[1].form is decl.form and last[1].run is decl.run and decl.form is not Form.PLAIN:
            last[0].append(kind)
        else:
            groups.append(([kind], decl))
    entries = [f"`{'|'.join(group)}{decl.form.value}`" + (f" ({decl.note})" if decl.note else "")
               for group, decl in groups]
    return "Operations: " + ", ".join(entries) + "; `a0.1` names another part of the same page."
