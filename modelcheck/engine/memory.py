"""Memory: how much this process holds, how much the machine has, and sizes as people write them.

A search stops as incomplete at its memory limit (``SearchOptions.max_memory``)
before the machine swaps or the allocator fails, so that the figures so far are
reported instead of lost. The resident set is read from /proc (one small read,
made every few thousand states); where there is no /proc, the peak resident set
the system reports for the process stands in.
"""

from __future__ import annotations

import math
import os
import re
import resource
from pathlib import Path

SAFE_FRACTION = 0.8  # of the machine's memory (or the cgroup's limit): the default limit of a command-line run
_UNITS = {"": 1, "K": 2 ** 10, "M": 2 ** 20, "G": 2 ** 30, "T": 2 ** 40}
_PAGE = os.sysconf("SC_PAGE_SIZE")


def resident_bytes() -> int:
    """This process's resident set now."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * _PAGE
    except (OSError, ValueError, IndexError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB


def machine_bytes() -> int:
    """The memory this process may use: the machine's, or less where a cgroup limits it."""
    try:
        physical = os.sysconf("SC_PHYS_PAGES") * _PAGE
    except (ValueError, OSError, AttributeError):
        physical = 2 ** 40
    for limit_file in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            text = Path(limit_file).read_text().strip()
        except OSError:
            continue
        if text.isdigit():
            physical = min(physical, int(text))
    return physical


def default_limit() -> int:
    return int(machine_bytes() * SAFE_FRACTION)


def parse_size(text: str) -> int:
    """Bytes from ``512M``, ``8G``, ``1.5T``, ``123456`` (bytes) or ``75%`` (of the machine's memory)."""
    value = text.strip()
    if value.endswith("%"):
        share = _number(value[:-1], text)
        if not 0 < share <= 100:
            raise ValueError(f"a share of the machine's memory is above 0% and at most 100%, not {text!r}")
        return int(machine_bytes() * share / 100)
    m = re.fullmatch(r"([0-9.eE+-]+)\s*([KMGT]?)(?:i?B)?", value, re.IGNORECASE)
    if not m:
        raise ValueError(f"a memory size is a number with K, M, G or T (512M, 8G) or a share (75%), not {text!r}")
    size = _number(m.group(1), text) * _UNITS[m.group(2).upper()]
    if size < 2 ** 20:
        raise ValueError(f"a memory limit below 1 MiB cannot hold a search ({text!r})")
    return int(size)


def _number(text: str, whole: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"not a memory size: {whole!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"a memory size must be a positive, finite number, not {whole!r}")
    return value


def mib(size: float) -> str:
    return f"{size / 2 ** 20:,.0f} MiB"
