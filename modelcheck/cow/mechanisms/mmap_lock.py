"""Who holds mmap_lock for writing: fork, between its steps (a world that runs it in steps)."""

from __future__ import annotations

from modelcheck.cow.kernel import Machine, Slots


def fork_in_progress(m: Machine, t: Slots) -> bool:
    """Some thread of the parent is between fork's steps: it holds mmap_lock for writing, and
    mm->write_protect_seq is odd."""
    L = m.layout
    for n in m.threads_of[0]:
        if t[L.step_base + n]:
            pc, program = t[L.pc_base + n], m.threads[n].program
            if pc < len(program) and program[pc].kind == "fork":
                return True
    return False
