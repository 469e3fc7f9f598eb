"""The ``mermaid`` export: the trace as a Mermaid sequence diagram."""

from __future__ import annotations

from typing import Sequence

from modelcheck.faces.exports._shared import (KERNEL, Trace, actor_and_action, changes_of, culprit, exporter, one_trace,
                                              verdict_line)


def _mermaid_text(text: str) -> str:
    """Text for a Mermaid message or note: ``#`` and ``;`` as entity codes (Mermaid reads them as markup and
    as the end of a statement), one line."""
    return " ".join(text.replace("#", "#35;").replace(";", "#59;").split())


@exporter("mermaid", "a Mermaid sequence diagram", "mmd")
def mermaid(traces: Sequence[Trace]) -> str:
    """A ``sequenceDiagram``: every actor a participant beside the kernel, every step a message from its
    actor to the kernel (a note over the kernel for its own steps) with what changed, the deciding choice and
    the violation notes."""
    trace = one_trace(traces, "Mermaid diagram")
    actors = list(dict.fromkeys(actor_and_action(step)[0] for step in trace["steps"]))
    ids = {actor: f"a{n}" for n, actor in enumerate(a for a in actors if a != KERNEL)}
    ids[KERNEL] = "k"
    lines = ["sequenceDiagram", f"    %% {_mermaid_text(verdict_line(trace))}"]
    lines += [f"    participant {ids[a]} as {_mermaid_text(a)}" for a in actors if a != KERNEL]
    lines.append(f"    participant k as {KERNEL}")
    last = "k"
    deciding = culprit(trace)
    for n, step in enumerate(trace["steps"], start=1):
        actor, action = actor_and_action(step)
        last = ids[actor]
        if actor == KERNEL:
            lines.append(f"    Note over k: {n}. {_mermaid_text(action)}")
        else:
            lines.append(f"    {ids[actor]}->>k: {n}. {_mermaid_text(action)}")
        changes = changes_of(step)
        if changes:
            lines.append("    Note right of k: " + "<br/>".join(_mermaid_text(c) for c in changes))
        if deciding is not None and deciding.get("step") == n:
            lines.append(f"    Note over k: deciding: {_mermaid_text(str(deciding['words']))}")
    span = "k" if last == "k" else f"{last},k"
    explanation = f": {trace['explanation']}" if trace.get("explanation") else ""
    lines.append(f"    Note over {span}: {_mermaid_text(str(trace['property']) + ' violated' + explanation)}")
    return "\n".join(lines) + "\n"
