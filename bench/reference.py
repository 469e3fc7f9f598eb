"""Benchmark: the reference world W(P,M,S), every reduction off, both policies.

Each grid point runs in a fresh process, so its peak memory is its own.
Prints a table and writes it to results/reference-bench.md.

    python bench/reference.py                 # the default grid
    python bench/reference.py --big           # also W(3,2,0) page_count (50M states) and W(2,3,1)
    python bench/reference.py --time-limit 60 # per point; a point that hits it is marked incomplete
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GRID = [(1, 1, 0), (2, 1, 0), (2, 2, 0), (3, 1, 0), (3, 1, 1), (2, 2, 1), (4, 1, 0), (2, 3, 0), (3, 2, 0)]
BIG = [(2, 3, 1)]
POLICIES = ("mapcount", "page_count")


def run_point(P: int, M: int, S: int, policy: str, time_limit: float, reduce: bool = False,
              store: str | None = None, workers: int = 1) -> dict:
    """Runs inside the child process: one full exploration."""
    sys.path.insert(0, str(ROOT))
    from modelcheck.cow import CowWorld
    from modelcheck.engine import SearchOptions, check
    from modelcheck.engine.strategies import levels, parallel  # noqa: F401  (numpy too: not counted as the store's growth)

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    model = CowWorld.reference(P, M, S).model(policy, ["no_leak_across_fork"])
    result = check(model, SearchOptions(stop_at_first=False, time_limit=time_limit, reduce=reduce,
                                        store=store, workers=workers))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if workers > 1:  # the workers hold the store; the largest one's peak, times their number
        peak = max(peak, before + workers * (resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss - before))
    s = result.stats
    return {"world": f"W({P},{M},{S})", "policy": policy, "verdict": result.verdict.value,
            "states": s.states, "transitions": s.transitions, "depth": s.depth,
            "seconds": round(s.seconds, 3), "states_per_second": round(s.states_per_second),
            "peak_mb": round(peak / 1024, 1), "store": result.figures["store"],
            "workers": result.figures.get("workers", 1),
            "store_bytes_per_state": round(result.figures["store_bytes"] / s.states, 1)
            if result.figures.get("store_bytes") else None,
            "miss_probability": result.figures.get("miss_probability"), "batched": result.figures.get("batched", False),
            # below ~10k states the figure is resident-size granularity, not the store
            "bytes_per_state": round((peak - before) * 1024 / s.states, 1) if s.states >= 10_000 else None}


def measure(P: int, M: int, S: int, policy: str, time_limit: float) -> dict:
    cmd = [sys.executable, __file__, "--point", str(P), str(M), str(S), policy, "--time-limit", str(time_limit)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        return {"world": f"W({P},{M},{S})", "policy": policy, "verdict": "failed",
                "error": proc.stderr.strip().splitlines()[-1:] or ["?"]}
    return json.loads(proc.stdout)


def table(rows: list[dict]) -> str:
    head = ("| world | policy | store | verdict | states | transitions | depth | seconds | states/s | peak MB | "
            "bytes/state |")
    lines = [head, "|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        if r["verdict"] == "failed":
            lines.append(f"| {r['world']} | {r['policy']} | | failed: {r['error'][0]} | | | | | | | |")
            continue
        per_state = f"{r['bytes_per_state']:,.0f}" if r["bytes_per_state"] is not None else "-"
        store = r["store"] + (", batch form" if r.get("batched") else "")
        lines.append(f"| {r['world']} | {r['policy']} | {store} | {r['verdict']} | {r['states']:,} | "
                     f"{r['transitions']:,} | "
                     f"{r['depth']} | {r['seconds']:.2f} | {r['states_per_second']:,} | {r['peak_mb']:,.0f} | "
                     f"{per_state} |")
    return "\n".join(lines)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--point", nargs=4, metavar=("P", "M", "S", "POLICY"), help=argparse.SUPPRESS)
    p.add_argument("--time-limit", type=float, default=600.0, help="seconds per point (default 600)")
    p.add_argument("--reduce", action="store_true", help=argparse.SUPPRESS)  # for --point runs
    p.add_argument("--store", help=argparse.SUPPRESS)
    p.add_argument("--workers", type=int, default=1, help=argparse.SUPPRESS)
    p.add_argument("--big", action="store_true", help="add the points with tens of millions of states")
    p.add_argument("--out", default=str(ROOT / "results" / "reference-bench.md"))
    args = p.parse_args()
    if args.point:
        P, M, S, policy = args.point
        print(json.dumps(run_point(int(P), int(M), int(S), policy, args.time_limit, args.reduce,
                                   args.store, args.workers)))
        return 0
    grid = GRID + (BIG if args.big else [])
    rows = []
    started = time.time()
    for P, M, S in grid:
        for policy in POLICIES:
            if (P, M, S) == (3, 2, 0) and policy == "page_count" and not args.big:
                continue  # 50,124,276 states: only with --big
            row = measure(P, M, S, policy, args.time_limit)
            rows.append(row)
            print(table([row]).splitlines()[-1], flush=True)
    under_a_minute = [r for r in rows if r["verdict"] in ("holds", "violated") and r["seconds"] < 60]
    largest = max(under_a_minute, key=lambda r: r["states"]) if under_a_minute else None
    text = (f"# Reference world benchmark\n\n"
            f"Written by `python bench/reference.py{' --big' if args.big else ''}` on {date.today()}, "
            f"Python {platform.python_version()}, {platform.machine()}, one process, every reduction off, "
            f"full exploration (--no-stop), breadth-first, the default exact store (compact, with the batch form, "
            f"for the open reference world), "
            f"time limit {args.time_limit:g} s per point; {time.time() - started:.0f} s in all.\n"
            f"Peak MB is the process's peak resident size; bytes/state is its growth during the search "
            f"per stored state.\n\n" + table(rows) + "\n")
    if largest:
        text += (f"\nLargest point explored completely in under a minute: {largest['world']} {largest['policy']}, "
                 f"{largest['states']:,} states in {largest['seconds']:.1f} s.\n")
    Path(args.out).write_text(text)
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
