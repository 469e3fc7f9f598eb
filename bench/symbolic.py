"""Benchmark: symbolic unknown references against the explicit world at S = 0..3, on the reference grid.

For each grid point W(P,M) and policy: the verdict and state count of the explicit world with S
speculative references, S = 0..3, and of the symbolic world (any number of unknown references per page
and step), with the solver's figures. Every state explored. Prints a table and writes
results/symbolic-bench.md.

    python bench/symbolic.py              # W(1,1) W(2,1) W(3,1) W(2,2) W(4,1)
    python bench/symbolic.py --big        # also W(3,2) (the explicit S=3 run is long)
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from modelcheck.cow import CowWorld  # noqa: E402
from modelcheck.engine import SearchOptions, check  # noqa: E402

GRID = [(1, 1), (2, 1), (3, 1), (2, 2), (4, 1)]
BIG = [(2, 3)]
POLICIES = ("mapcount", "page_count", "page_count_fork_copy", "anon_exclusive")
INVARIANTS = ["no_leak_across_fork"]


def timed(model):
    started = time.perf_counter()
    result = check(model, SearchOptions(stop_at_first=False))
    return result, time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--big", action="store_true")
    args = parser.parse_args()
    grid = GRID + (BIG if args.big else [])
    lines = [f"# Symbolic unknown references against S = 0..3 ({date.today()}, Python "
             f"{platform.python_version()})", "",
             "Written by `python bench/symbolic.py`. Invariant no_leak_across_fork, every state explored. "
             "Each cell: verdict / states / seconds. 'agree': the symbolic verdict equals every explicit one; "
             "'<= S=1': the symbolic state count is at most the explicit count at S = 1.", "",
             "| world | policy | S=0 | S=1 | S=2 | S=3 | symbolic | agree | <= S=1 | solver calls / cache hits / s |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    disagreements = 0
    for P, M in grid:
        for policy in POLICIES:
            cells, verdicts, states = [], set(), {}
            for S in range(4):
                r, t = timed(CowWorld.reference(P, M, S).model(policy, INVARIANTS))
                cells.append(f"{r.verdict.value} / {r.stats.states:,} / {t:.2f}")
                verdicts.add(r.verdict)
                states[S] = r.stats.states
            model = CowWorld.reference(P, M, 0).with_symbolic_refs().model(policy, INVARIANTS)
            r, t = timed(model)
            agree = verdicts == {r.verdict}
            disagreements += not agree
            solver = r.model_figures
            lines.append(f"| W({P},{M}) | {policy} | " + " | ".join(cells)
                         + f" | {r.verdict.value} / {r.stats.states:,} / {t:.2f} | {'yes' if agree else 'NO'} | "
                         f"{'yes' if r.stats.states <= states[1] else 'no'} | {solver['solver calls']:,} / "
                         f"{solver['solver cache hits']:,} / {solver['solver seconds']:.3f} |")
            print(lines[-1], flush=True)
    lines += ["", f"Disagreements: {disagreements}."]
    (ROOT / "results" / "symbolic-bench.md").write_text("\n".join(lines) + "\n")
    return 1 if disagreements else 0


if __name__ == "__main__":
    raise SystemExit(main())
