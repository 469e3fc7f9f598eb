"""Benchmark: dynamic partial-order reduction against the full breadth-first search, on every scripted
spec under every policy and on a few scenarios with background events, every state explored (--no-stop).

Prints a table and writes it to results/dpor-bench.md: states and transitions each search took,
seconds, and whether the verdicts agree (they must). Where executions repeat a state, DPOR falls back
to breadth-first search and the table says so.

    python bench/dpor.py
"""

from __future__ import annotations

import platform
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from modelcheck.cow import CowWorld  # noqa: E402
from modelcheck.cow.policies import policy_names  # noqa: E402
from modelcheck.engine import SearchOptions, check  # noqa: E402
from modelcheck.spec import bind, load_spec  # noqa: E402

EXTRA = [  # two processes touching two pages, with kernel events that end
    ("fork + 2 threads, lru", {"parent": ["fork", "store a0", "load a1"], "child1": ["load a0", "store a1"]},
     ["lru"], ["no_leak_across_fork", "no_lost_write"]),
    ("fork + 2 threads, swap", {"parent": ["fork", "store a0", "load a1"], "child1": ["load a0", "store a1"]},
     ["swap"], ["no_leak_across_fork", "no_lost_write"]),
    ("fork + 2 threads, lru + swap", {"parent": ["fork", "store a0", "load a1"],
                                      "child1": ["load a0", "store a1"]},
     ["lru", "swap"], ["no_leak_across_fork", "no_lost_write"]),
    ("3 threads, 2 pages", {"parent": ["store a0", "load a1", "store a1"], "parent.2": ["load a0", "store a0"],
                            "parent.3": ["load a1"]}, [], ["no_lost_write"]),
]


def measure(model) -> dict:
    t = time.perf_counter()
    full = check(model, SearchOptions(stop_at_first=False, store="dict"))
    t_full = time.perf_counter() - t
    t = time.perf_counter()
    dpor = check(model, SearchOptions(strategy="dpor", stop_at_first=False))
    t_dpor = time.perf_counter() - t
    agree = {v.property for v in full.violations} == {v.property for v in dpor.violations} \
        and full.verdict is dpor.verdict
    return {"full": full, "dpor": dpor, "t_full": t_full, "t_dpor": t_dpor, "agree": agree}


def row(name: str, policy: str, m: dict) -> str:
    full, dpor = m["full"], m["dpor"]
    used = "fell back (executions repeat a state)" if dpor.notes else "dpor"
    return (f"| {name} | {policy} | {full.verdict.value} | {dpor.verdict.value} | {'yes' if m['agree'] else 'NO'} | "
            f"{full.stats.states:,} | {dpor.stats.states:,} | {full.stats.transitions:,} | "
            f"{dpor.stats.transitions:,} | {m['t_full']:.3f} | {m['t_dpor']:.3f} | {used} |")


def main() -> int:
    lines = [f"# DPOR against full breadth-first search ({date.today()}, Python {platform.python_version()})",
             "",
             "Written by `python bench/dpor.py`. Every state explored (--no-stop), dict store for the full "
             "search. 'agree': the same verdict and the same violated properties.",
             "",
             "| scenario | policy | full | DPOR | agree | states | DPOR states | transitions | DPOR transitions "
             "| seconds | DPOR seconds | run |",
             "|---|---|---|---|---|---:|---:|---:|---:|---:|---:|---|"]
    totals = {"full": [0, 0, 0.0], "dpor": [0, 0, 0.0]}
    disagreements = 0
    specs = sorted((ROOT / "specs").glob("*.py"))
    for path in specs:
        loaded = bind(path, load_spec(path))
        if loaded.world.scenario is None:
            continue
        for policy in loaded.policies():
            m = measure(loaded.world.model(policy, loaded.spec.invariants))
            lines.append(row(path.stem, policy, m))
            disagreements += not m["agree"]
            if not m["dpor"].notes:
                for side, r, t in (("full", m["full"], m["t_full"]), ("dpor", m["dpor"], m["t_dpor"])):
                    totals[side][0] += r.stats.states
                    totals[side][1] += r.stats.transitions
                    totals[side][2] += t
    for name, programs, events, invariants in EXTRA:
        world = CowWorld.scripted(programs, events=events)
        for policy in policy_names():
            m = measure(world.model(policy, invariants))
            lines.append(row(name, policy, m))
            disagreements += not m["agree"]
    f, d = totals["full"], totals["dpor"]
    lines += ["", f"Specs where DPOR ran (no fall-back), summed: states {f[0]:,} -> {d[0]:,} "
                  f"({d[0] / f[0]:.2f}x), transitions {f[1]:,} -> {d[1]:,} ({d[1] / f[1]:.2f}x), "
                  f"seconds {f[2]:.2f} -> {d[2]:.2f}.",
              f"Disagreements: {disagreements}."]
    text = "\n".join(lines) + "\n"
    print(text)
    (ROOT / "results" / "dpor-bench.md").write_text(text)
    return 1 if disagreements else 0


if __name__ == "__main__":
    raise SystemExit(main())
