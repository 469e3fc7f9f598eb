"""modelcheck beside SPIN on the reference world, in one run: states, seconds, bytes per state, ratios.

The peer is the reference world written independently in Promela, with a
script that runs one grid point (spin -a, gcc, pan without partial-order
reduction) and prints one JSON line. It lives beside the project in the
shared design folder (bench/spin there); point --peer at it. It needs Debian's
`spin` package and gcc. Both sides are timed as a user pays for them: SPIN
with its compile, modelcheck with its interpreter start-up.

    python bench/spin_compare.py --peer ../shared/bench/spin
    python bench/spin_compare.py --peer DIR --points 2,2,0 3,1,1 --policies page_count
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_POINTS = ["1,1,0", "2,1,0", "2,2,0", "3,1,1", "2,2,1", "4,1,0"]
POLICIES = ("mapcount", "page_count")


def run_spin(peer: Path, P: int, M: int, S: int, policy: str) -> dict:
    cmd = ["bash", str(peer / "spin-point"), str(P), str(M), str(S), policy, "dfs"]
    started = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if proc.returncode != 0 or not proc.stdout.strip():
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"the SPIN peer failed on W({P},{M},{S}) {policy} after {wall:.0f} s: {last}")
    row = json.loads(proc.stdout.strip().splitlines()[-1])
    row["wall"] = wall
    return row


def run_modelcheck(P: int, M: int, S: int, policy: str, time_limit: float, reduce: bool = False) -> dict:
    cmd = [sys.executable, str(ROOT / "bench" / "reference.py"), "--point", str(P), str(M), str(S), policy,
           "--time-limit", str(time_limit)] + (["--reduce"] if reduce else [])
    started = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"modelcheck failed on W({P},{M},{S}) {policy}: {proc.stderr.strip()[-200:]}")
    row = json.loads(proc.stdout)
    row["wall"] = wall
    return row


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--peer", required=True, type=Path, help="the folder holding spin-point and world.pml")
    p.add_argument("--points", nargs="+", default=DEFAULT_POINTS, metavar="P,M,S")
    p.add_argument("--policies", nargs="+", default=list(POLICIES), choices=POLICIES)
    p.add_argument("--time-limit", type=float, default=600.0, help="seconds per modelcheck point")
    p.add_argument("--full-up-to", type=int, default=5_000_000, metavar="STATES",
                   help="run modelcheck without reduction only where SPIN counts at most this many states "
                        "(an exact store of Python tuples needs about 320 bytes a state)")
    p.add_argument("--out", default=str(ROOT / "results" / "bench.md"))
    args = p.parse_args()
    if not (args.peer / "spin-point").exists():
        print(f"spin_compare: {args.peer}: no spin-point script there", file=sys.stderr)
        return 2
    if shutil.which("spin") is None or shutil.which("gcc") is None:
        print("spin_compare: needs Debian's spin package and gcc (apt-get install spin gcc)", file=sys.stderr)
        return 2
    head = ("| world | policy | states (SPIN) | SPIN s | states (modelcheck) | modelcheck s | ratio | "
            "representatives (--reduce) | --reduce s | ratio | SPIN B/state | modelcheck B/state |")
    lines = [head, "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    print(head, flush=True)
    for point in args.points:
        P, M, S = (int(x) for x in point.split(","))
        for policy in args.policies:
            try:
                spin = run_spin(args.peer, P, M, S, policy)
            except RuntimeError as err:  # the peer's own script can fail (it says why); keep measuring ours
                print(f"  {err}", file=sys.stderr)
                spin = None
            reduced = run_modelcheck(P, M, S, policy, args.time_limit, reduce=True)
            if spin is None:
                line = (f"| W({P},{M},{S}) | {policy} | peer failed | - | not run | - | - | "
                        f"{reduced['states']:,} | {reduced['wall']:.2f} | - | - | - |")
                print(line, flush=True)
                lines.append(line)
                continue
            full = run_modelcheck(P, M, S, policy, args.time_limit) if spin["states"] <= args.full_up_to else None
            spin_bps = spin["memory_mb"] * 1e6 / spin["states"] if spin.get("memory_mb") else None
            if full is None:
                full_cells = "not run | - | - |"
            else:
                same = "" if spin["states"] == full["states"] else " (differs!)"
                full_cells = (f"{full['states']:,}{same} | {full['wall']:.2f} | {full['wall'] / spin['wall']:.2f}x |")
            line = (f"| W({P},{M},{S}) | {policy} | {spin['states']:,} | {spin['wall']:.2f} | " + full_cells +
                    f" {reduced['states']:,} | {reduced['wall']:.2f} | {reduced['wall'] / spin['wall']:.2f}x | "
                    f"{spin_bps:,.0f} | "
                    + (f"{full['bytes_per_state']:,.0f} |" if full and full["bytes_per_state"] else "- |"))
            print(line, flush=True)
            lines.append(line)
    text = (f"# modelcheck beside SPIN on the reference world\n\n"
            f"Written by `python bench/spin_compare.py` on {date.today()}: full exploration, every reduction "
            f"off in SPIN; SPIN 6.5 depth-first (compile included), modelcheck breadth-first, one process, exact "
            f"store (start-up included), without and with its symmetry reduction (--reduce: one representative "
            f"per renaming of page slots, same verdicts). SPIN's bytes/state include its hash table. Ratios are "
            f"modelcheck's wall time over SPIN's, measured in the same run.\n\n" + "\n".join(lines) + "\n")
    Path(args.out).write_text(text)
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
