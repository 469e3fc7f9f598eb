"""The ``spec`` export: the counterexample as a spec file of a scripted scenario that re-runs it.

The world reads the trace's steps back as each thread's program, the kernel's
events and the order of them all (``runner.scenario_spec``), so that
``python -m modelcheck FILE --policy P`` finds the same violation by the same
steps. A trace no scenario can state (symbolic references, references held
outside that z3 counted) is refused with the world's reason.
"""

from __future__ import annotations

from typing import Sequence

from modelcheck.faces.exports._shared import ExportError, Trace, exporter, one_trace
from modelcheck.runner import NotReproducible, scenario_spec


@exporter("spec", "a spec file that re-runs the counterexample", "py")
def spec(traces: Sequence[Trace]) -> str:
    """One trace as a spec file (Python) of a scripted scenario pinned to the trace's interleaving."""
    trace = one_trace(traces, "spec file")
    try:
        return scenario_spec(dict(trace))
    except NotReproducible as err:
        raise ExportError(f"this counterexample cannot be written as a spec: {err}") from None
