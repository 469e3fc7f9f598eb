"""Counterexamples people can read and share: a trace file's traces in the formats of this package.

Each format is one module here that registers itself with ``@exporter``; the
package loads every module, so adding a format is adding a file. Formats read
trace documents only (what ``export.trace_document`` builds and
``export.read_trace_file`` reads), so a trace found on one machine renders the
same anywhere, and an old trace file renders as well as a new one.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Sequence

from modelcheck.faces.exports._shared import (FORMATS, KERNEL, ExportError, Format, Trace, actor_and_action,
                                              changes_of, culprit, exporter, one_trace, params_words, verdict_line)

__all__ = ["FORMATS", "KERNEL", "ExportError", "Format", "Trace", "actor_and_action", "changes_of", "culprit", "exporter",
           "one_trace", "params_words", "render", "verdict_line"]

for _module in pkgutil.iter_modules(__path__):
    if not _module.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_module.name}")


def render(name: str, traces: Sequence[Trace]) -> str:
    """The traces in format ``name`` (one of ``FORMATS``); an ``ExportError`` if that format cannot draw them."""
    return FORMATS[name].draw(traces)
