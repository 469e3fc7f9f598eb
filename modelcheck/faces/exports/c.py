"""The ``c`` export: the trace as a standalone C program that replays its system calls on the running kernel.

The program is written by the COW world (``runner.c_reproducer``); this face
only asks for it. A trace of several counterexamples gives the one ``--trace N``
picks; a trace that is no concrete schedule is an ``ExportError``.
"""

from __future__ import annotations

from typing import Sequence

from modelcheck import runner
from modelcheck.faces.exports._shared import ExportError, Trace, exporter, one_trace


@exporter("c", "a C reproducer for the running kernel", "c")
def c_reproducer(traces: Sequence[Trace]) -> str:
    """One C file: the trace's steps as system calls in the trace's order, its property checked live, TAP out
    and a final ``RESULT <scenario> holds|violated|unsupported <detail>`` line."""
    trace = one_trace(traces, "C reproducer")
    try:
        return runner.c_reproducer(dict(trace))
    except runner.NotReproducible as why:
        raise ExportError(f"cannot write a C reproducer of this trace: {why}") from None
