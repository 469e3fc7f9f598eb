"""Benchmark: one large breadth-first search on a Dask cluster, against one process and forked workers.

Runs one point of the reference world W(P,M,S) (every reduction off, no stop at
the first violation) in one process, with forked ``--workers``, and on a Dask
LocalCluster of each size asked for; prints states, transitions, depth,
verdict and seconds of each (wall clock, the cluster's start included), and for
the largest cluster the figures of each level: its frontier, the rounds it took,
the bytes of successors shuffled between shards, and the seconds spent expanding
and exchanging. The levels whose frontier is at most ``--tiny`` states do no
work to speak of: their median wall time is the cost of one level barrier.

    python bench/cluster.py                         # W(2,3,0) page_count, 3,161,954 states
    python bench/cluster.py --point 2 2 0 --dask 1 2 --forked 2 --json
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from modelcheck.cow import CowWorld  # noqa: E402
from modelcheck.engine import SearchOptions, check  # noqa: E402
from modelcheck.engine.strategies import cluster  # noqa: E402


def measure(point: tuple[int, int, int], policy: str, label: str, route: str = "peers", **options: Any) -> dict:
    model = CowWorld.reference(*point).model(policy, ["no_leak_across_fork"])
    opts = SearchOptions(stop_at_first=False, **options)
    started = time.perf_counter()
    if route != "peers":  # the other way of moving successors: through this process (measured, not the default)
        original = cluster.search
        cluster.search = lambda m, r, s: original(m, r, s, route=route)  # type: ignore[assignment]
        try:
            result = check(model, opts)
        finally:
            cluster.search = original  # type: ignore[assignment]
    else:
        result = check(model, opts)
    seconds = time.perf_counter() - started
    levels = [dict(lv, expand_seconds=t["expand"], exchange_seconds=t["exchange"], seconds=t["level"])
              for lv, t in zip(result.figures.get("levels", []), result.figures.get("level_seconds", []))]
    return {"configuration": label, "states": result.stats.states, "transitions": result.stats.transitions,
            "depth": result.stats.depth, "verdict": result.verdict.value, "seconds": round(seconds, 2),
            "levels_seconds": round(sum(lv["seconds"] for lv in levels), 2), "levels": levels}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--point", nargs=3, type=int, default=[2, 3, 0], metavar=("P", "M", "S"))
    p.add_argument("--policy", default="page_count")
    p.add_argument("--dask", nargs="*", type=int, default=[1, 2], metavar="N", help="Dask cluster sizes")
    p.add_argument("--forked", nargs="*", type=int, default=[2], metavar="N", help="--workers N runs")
    p.add_argument("--driver-route", action="store_true",
                   help="also run the largest cluster with successors routed through the driver")
    p.add_argument("--no-serial", action="store_true")
    p.add_argument("--tiny", type=int, default=200, help="levels of at most this many states time the barrier")
    p.add_argument("--json", action="store_true", help="print the rows as JSON lines")
    args = p.parse_args()
    point = tuple(args.point)
    rows = [] if args.no_serial else [measure(point, args.policy, "one process")]
    rows += [measure(point, args.policy, f"--workers {n} (forked)", workers=n) for n in args.forked]
    rows += [measure(point, args.policy, f"--dask-workers {n}", dask_workers=n) for n in args.dask]
    if args.driver_route and args.dask:
        n = max(args.dask)
        rows.append(measure(point, args.policy, f"--dask-workers {n}, via the driver", route="driver",
                            dask_workers=n))
    if args.json:
        for row in rows:
            print(json.dumps(row))
        return
    print(f"W{point} {args.policy} --no-stop\n")
    print(f"{'configuration':34} {'states':>11} {'transitions':>12} {'depth':>5} {'verdict':>8} {'seconds':>8} "
          f"{'in levels':>9}")
    for r in rows:
        print(f"{r['configuration']:34} {r['states']:>11,} {r['transitions']:>12,} {r['depth']:>5} "
              f"{r['verdict']:>8} {r['seconds']:>8.2f} {r['levels_seconds'] or '':>9}")
    dask = [r for r in rows if r["levels"] and "driver" not in r["configuration"]]
    if not dask:
        return
    biggest = dask[-1]
    print(f"\nlevels of {biggest['configuration']}:")
    print(f"{'level':>5} {'frontier':>10} {'rounds':>6} {'shuffled MiB':>12} {'expand s':>9} {'exchange s':>10} "
          f"{'level s':>8}")
    for lv in biggest["levels"]:
        print(f"{lv['level']:>5} {lv['frontier']:>10,} {lv['rounds']:>6} {lv['shuffled_bytes'] / 2**20:>12.2f} "
              f"{lv['expand_seconds']:>9.3f} {lv['exchange_seconds']:>10.3f} {lv['seconds']:>8.3f}")
    total = sum(lv["shuffled_bytes"] for lv in biggest["levels"])
    print(f"shuffled in all: {total / 2**20:.1f} MiB, {total / max(1, biggest['transitions']):.1f} bytes a transition")
    tiny = [lv["seconds"] for lv in biggest["levels"] if lv["frontier"] <= args.tiny]
    if tiny:
        print(f"barrier (median level of at most {args.tiny} states, {len(tiny)} levels): "
              f"{statistics.median(tiny) * 1000:.1f} ms")


if __name__ == "__main__":
    main()
