"""modelcheck beside SPIN on the reference world, in one run: states, seconds, bytes per state, ratios.

The peer is the reference world written independently in Promela, with a
script that runs one grid point (spin -a, gcc, pan without partial-order
reduction) and prints one JSON line. It lives beside the project in the
shared design folder (bench/spin there); point --peer at it. It needs Debian's
`spin` package and gcc. Both sides are timed as a user pays for them: SPIN
with its compile, modelcheck with its interpreter start-up.

Each modelcheck configuration (store, workers, reductions) runs in a fresh
process. Ratios are modelcheck's wall time over SPIN's on the same point, and
two workers' speed-up over the same store in one process.

    python bench/spin_compare.py --peer DIR   # DIR: the folder holding spin-point and world.pml
    python bench/spin_compare.py --peer DIR --points 2,2,0 3,1,1 --policies page_count
    python bench/spin_compare.py --peer DIR --before ../old   # and a checkout of another revision, in turn

With ``--before DIR`` every configuration runs twice in a row, this tree first
and then the checkout in DIR (its bench/reference.py, with its own virtual
environment's interpreter), so that a change's before and after are measured
in one run on a machine in one state; the rows of DIR say "@before" and the
last column gives this tree's wall time over DIR's.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_POINTS = ["2,2,0", "3,1,1", "2,2,1", "4,1,0", "2,3,0", "3,2,0"]
POLICIES = ("mapcount", "page_count")
# name, store, workers, reduce, cold: every reduction off first (the counts of reference-world.md), then on.
# compact is the numpy path (the default before the compiled one); compiled is the default where numba is
# present, run once on a cold cache (numba compiles every loop, as a machine's first run does) and once warm
CONFIGS = [
    ("dict", "dict", 1, False, False),
    ("compact", "compact", 1, False, False),
    ("compiled cold", "compiled", 1, False, True),
    ("compiled", "compiled", 1, False, False),
    ("compact x2", "compact", 2, False, False),
    ("compiled x2", "compiled", 2, False, False),
    ("fingerprint x2", "fingerprint", 2, False, False),
    ("dict +symmetry", "dict", 1, True, False),
    ("compact +symmetry", "compact", 1, True, False),
    ("compact x2 +symmetry", "compact", 2, True, False),
]


def peer_copy(peer: Path, into: Path) -> tuple[Path, str]:
    """The peer in a scratch folder; its JSON printer is made to accept pan's exponent notation.

    pan prints large transition counts as e.g. 7.9566077e+08, which the peer's
    printer reads with int(); it is read as int(float(...)) instead (the count
    then has pan's 8 significant digits). Nothing else is changed.
    """
    for name in ("spin-point", "world.pml"):
        shutil.copy(peer / name, into / name)
    script = into / "spin-point"
    text = script.read_text()
    fixed = text.replace("int(trans) if trans", "int(float(trans)) if trans")
    script.write_text(fixed)
    return into, "" if fixed == text else "transitions read as int(float(...))"


def spin_hash_bits(P: int, M: int) -> int | None:
    """pan's hash table size for a point: 2**26 slots where the peer's notes ask for it (tens of millions of
    states: W(3,2,0) and larger), else the peer's default (2**24)."""
    return 26 if P >= 3 and P * M >= 6 else None


def run_spin(peer: Path, P: int, M: int, S: int, policy: str) -> dict:
    cmd = ["bash", str(peer / "spin-point"), str(P), str(M), str(S), policy, "dfs"]
    bits = spin_hash_bits(P, M)
    env = dict(os.environ, SPIN_HASH_BITS=str(bits)) if bits and "SPIN_HASH_BITS" not in os.environ else None
    started = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - started
    if proc.returncode != 0 or not proc.stdout.strip():
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"the SPIN peer failed on W({P},{M},{S}) {policy} after {wall:.0f} s: {last}")
    row = json.loads(proc.stdout.strip().splitlines()[-1])
    row["wall"] = wall
    return row


def run_modelcheck(P: int, M: int, S: int, policy: str, time_limit: float, store: str, workers: int,
                   reduce: bool, tree: Path = ROOT, python: str = sys.executable, cold: bool = False) -> dict:
    """One configuration in a fresh process; ``cold``: with an empty numba cache of its own, so that every
    compiled loop is compiled in the run (a warm run loads them from the cache beside the modules)."""
    cmd = [python, str(tree / "bench" / "reference.py"), "--point", str(P), str(M), str(S), policy,
           "--time-limit", str(time_limit), "--store", store, "--workers", str(workers)]
    cmd += ["--reduce"] if reduce else []
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache) if cold else None
        started = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=tree, env=env)
        wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"modelcheck failed on W({P},{M},{S}) {policy}: {proc.stderr.strip()[-300:]}")
    row = json.loads(proc.stdout)
    row["wall"] = wall
    return row


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--peer", required=True, type=Path, help="the folder holding spin-point and world.pml")
    p.add_argument("--points", nargs="+", default=DEFAULT_POINTS, metavar="P,M,S")
    p.add_argument("--policies", nargs="+", default=list(POLICIES), choices=POLICIES)
    p.add_argument("--configs", nargs="+", default=[c[0] for c in CONFIGS], choices=[c[0] for c in CONFIGS],
                   metavar="NAME", help="modelcheck configurations (default: all)")
    p.add_argument("--time-limit", type=float, default=3600.0, help="seconds per modelcheck run")
    p.add_argument("--dict-up-to", type=int, default=5_000_000, metavar="STATES",
                   help="run the dict store without reduction only where SPIN counts at most this many states "
                        "(it needs about 320 bytes a state)")
    p.add_argument("--before", type=Path, metavar="DIR",
                   help="also run every configuration from this checkout of another revision, right after this "
                        "tree's (with DIR/.venv/bin/python)")
    p.add_argument("--out", default=str(ROOT / "results" / "bench.md"))
    args = p.parse_args()
    trees = [("", ROOT, sys.executable)]
    if args.before is not None:
        python = args.before / ".venv" / "bin" / "python"
        if not (args.before / "bench" / "reference.py").exists() or not python.exists():
            print(f"spin_compare: {args.before}: no bench/reference.py and .venv/bin/python there", file=sys.stderr)
            return 2
        trees.append((" @before", args.before.resolve(), str(python)))
    if not (args.peer / "spin-point").exists():
        print(f"spin_compare: {args.peer}: no spin-point script there", file=sys.stderr)
        return 2
    if shutil.which("spin") is None or shutil.which("gcc") is None:
        print("spin_compare: needs Debian's spin package and gcc (apt-get install spin gcc)", file=sys.stderr)
        return 2
    configs = [c for c in CONFIGS if c[0] in args.configs]
    jit_rows: list[str] = []
    head = ("| world | policy | run | states | seconds | vs SPIN | vs 1 process | bytes/state | "
            "store B/state | miss probability |" + (" vs @before |" if len(trees) > 1 else ""))
    lines = [head, "|---|---|---|---:|---:|---:|---:|---:|---:|---:|" + ("---:|" if len(trees) > 1 else "")]
    more = " - |" if len(trees) > 1 else ""
    print(head, flush=True)
    started = time.time()
    notes: set[str] = set()

    def emit(line: str) -> None:
        print(line, flush=True)
        lines.append(line)

    if any(c[1] == "compiled" and not c[4] for c in configs):
        for tree_label, tree, python in trees:  # fill the cache beside the modules, which the warm rows load
            run_modelcheck(1, 1, 0, "page_count", args.time_limit, "compiled", 2, False, tree, python)
    with tempfile.TemporaryDirectory() as scratch:
        peer, note = peer_copy(args.peer, Path(scratch))
        if note:
            notes.add(note)
        for point in args.points:
            P, M, S = (int(x) for x in point.split(","))
            world = f"W({P},{M},{S})"
            for policy in args.policies:
                try:
                    spin = run_spin(peer, P, M, S, policy)
                except RuntimeError as err:  # the peer can fail (it says why); keep measuring ours
                    print(f"  {err}", file=sys.stderr)
                    spin = None
                if spin is not None:
                    spin_bps = spin["memory_mb"] * 1e6 / spin["states"] if spin.get("memory_mb") else None
                    emit(f"| {world} | {policy} | SPIN dfs | {spin['states']:,} | {spin['wall']:.2f} | 1.00x | - | "
                         + (f"{spin_bps:,.1f}" if spin_bps else "-") + " | - | - |" + more)
                one_process: dict[tuple[str, str, bool], float] = {}
                cold_wall: dict[str, float] = {}
                for name, store, workers, reduce, cold in configs:
                    if store == "dict" and not reduce and (spin is None or spin["states"] > args.dict_up_to):
                        emit(f"| {world} | {policy} | {name} | not run (memory) | - | - | - | - | - | - |{more}")
                        continue
                    after = None
                    for label, tree, python in trees:
                        try:
                            row = run_modelcheck(P, M, S, policy, args.time_limit, store, workers, reduce, tree,
                                                 python, cold)
                        except RuntimeError as err:
                            print(f"  {err}", file=sys.stderr)
                            emit(f"| {world} | {policy} | {name}{label} | failed | - | - | - | - | - | - |{more}")
                            continue
                        if workers == 1 and not cold:
                            one_process[(label, store, reduce)] = row["wall"]
                        if store == "compiled" and workers == 1 and not reduce:
                            if cold:
                                cold_wall[label] = row["wall"]
                            elif label in cold_wall:
                                jit_rows.append(f"| {world} | {policy}{label} | {cold_wall[label]:.2f} | "
                                                f"{row['wall']:.2f} | {cold_wall[label] - row['wall']:.2f} |")
                        base = one_process.get((label, store, reduce))
                        states = f"{row['states']:,}"
                        if row["verdict"] == "incomplete":
                            states += " (incomplete)"
                        elif spin is not None and not reduce and row["states"] != spin["states"]:
                            states += " (differs from SPIN!)"
                        vs_spin = f"{row['wall'] / spin['wall']:.2f}x" if spin else "-"
                        speedup = f"{base / row['wall']:.2f}x" if workers > 1 and base else "-"
                        bps = f"{row['bytes_per_state']:,.1f}" if row["bytes_per_state"] is not None else "-"
                        store_bps = f"{row['store_bytes_per_state']:,.1f}" if row["store_bytes_per_state"] else "-"
                        miss = f"{row['miss_probability']:.1e}" if row["miss_probability"] is not None else "-"
                        vs_before = more
                        if label and after is not None:
                            vs_before = f" {after / row['wall']:.2f}x |"
                        if not label:
                            after = row["wall"]
                        emit(f"| {world} | {policy} | {name}{label} | {states} | {row['wall']:.2f} | {vs_spin} | "
                             f"{speedup} | {bps} | {store_bps} | {miss} |{vs_before}")
    text = (f"# modelcheck beside SPIN on the reference world\n\n"
            f"Written by `python bench/spin_compare.py` on {date.today()} in {time.time() - started:.0f} s. "
            f"Full exploration. SPIN 6.5 depth-first with partial-order reduction off (compile included; "
            f"pan's hash table 2^26 slots from W(3,2,0) on, 2^24 below; "
            f"bytes/state from pan's memory report, hash table included"
            + (f"; {', '.join(sorted(notes))}" if notes else "") + "). "
            "modelcheck breadth-first (interpreter start-up included): `dict` is the exact store with "
            "back-pointers, `compact` the exact packed table, `fingerprint` 64-bit fingerprints; `x2` is two "
            "worker processes owning hash partitions; `+symmetry` adds the page-slot symmetry reduction (states "
            "then count representatives). bytes/state is the peak resident growth per stored state (for two "
            "workers, the larger worker's times two); store B/state is the table alone. vs SPIN is wall time "
            "over SPIN's on the same point; vs 1 process is the one-process run of the same store over this "
            "one." + (f" Rows marked @before ran from a checkout of another revision ({args.before.name}) right "
                      "after this tree's run of the same configuration; vs @before is this tree's wall time over "
                      "its." if len(trees) > 1 else "") + " `compiled cold` runs with an empty numba cache of "
            "its own, so every compiled loop is compiled in the run, as on a machine's first run; the other "
            "compiled rows load them from the cache.\n\n" + "\n".join(lines) + "\n"
            + ("\n## The compiled loops: cold and warm cache\n\nWall seconds of one process; the difference is "
               "the compilation (and the cache's loading) a first run pays.\n\n"
               "| world | policy | cold | warm | difference |\n|---|---|---:|---:|---:|\n"
               + "\n".join(jit_rows) + "\n" if jit_rows else ""))
    Path(args.out).write_text(text)
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
