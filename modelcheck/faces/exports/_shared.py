"""What every export format shares: the trace shape, the words for an actor and a verdict, the registry."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

Trace = Mapping[str, Any]
KERNEL = "kernel"


class ExportError(Exception):
    """Traces a format cannot draw (a usage error): none, or several where one diagram holds one."""


def actor_and_action(step: Mapping[str, Any]) -> tuple[str, str]:
    """Who acted and what they did: the step's recorded actor (its label starts with it), else the label's
    first word, as in ``parent fork()``; a label of one word is the kernel's."""
    label: str = step["label"]
    actor = step.get("actor")
    if isinstance(actor, str) and actor and label.startswith(actor + " "):
        return actor, label[len(actor) + 1:]
    head, _, rest = label.partition(" ")
    return (head, rest) if rest else (KERNEL, label)


def changes_of(step: Mapping[str, Any]) -> list[str]:
    changes = step.get("changes")
    return [str(c) for c in changes] if isinstance(changes, list) else []


def params_words(trace: Trace) -> str:
    return " ".join(f"{name}={value}" for name, value in trace.get("params", {}).items())


def verdict_line(trace: Trace) -> str:
    """The one line a report ends with: which property broke, under which policy, at which step."""
    return (f"{trace['spec_id']} under {trace['policy']}: {trace['property']} violated at step "
            f"{len(trace['steps'])}")



Draw = Callable[[Sequence[Trace]], str]


@dataclass(frozen=True)
class Format:
    """One export format: its name (``--to NAME``), what it is in a few words, and how it draws traces."""

    name: str
    summary: str
    draw: Draw
    suffix: str


FORMATS: dict[str, Format] = {}


def exporter(name: str, summary: str, suffix: str | None = None) -> Callable[[Draw], Draw]:
    """Register the decorated function as the export format ``name`` (its module in this package is found
    and loaded by the package)."""
    def register(draw: Draw) -> Draw:
        if name in FORMATS:
            raise RuntimeError(f"two export formats are named {name!r}")
        FORMATS[name] = Format(name, summary, draw, suffix or name)
        return draw
    return register


def one_trace(traces: Sequence[Trace], what: str) -> Trace:
    """The one trace a diagram draws; an ``ExportError`` for none or several."""
    if not traces:
        raise ExportError(f"no counterexample to draw as {what} (the run found no violation)")
    if len(traces) > 1:
        raise ExportError(f"{len(traces)} counterexamples, and a {what} draws one")
    return traces[0]


def culprit(trace: Trace) -> Mapping[str, Any] | None:
    """The deciding choice nearest the violation (the last of those whose other way avoids it), if the trace
    records its decisions."""
    deciding = [d for d in trace.get("decisions") or [] if isinstance(d, Mapping) and d.get("deciding")]
    return deciding[-1] if deciding else None
