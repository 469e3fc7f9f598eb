"""Benchmark: the bounded model checker against breadth-first search, on every scripted spec and policy.

For each spec and policy: breadth-first search's verdict, shortest counterexample length and seconds,
and the bounded model checker's. Its depth bound is the larger of breadth-first search's depth plus one
and its state count: no run that visits no state twice is longer, so the bound never cuts a search
short; the bounded run ends on its own once its newest frame holds no state the earlier ones do not, or
no run of the next length repeats no state (the depth it reached is in the table). A bounded run that
hits the time limit is marked so. A world with references held outside in an unknown number (O16) is
searched symbolically by breadth-first search, and by the bounded model checker with the count as a
parameter of the run (CowWorld.with_held_as_parameters). Prints a table and writes
results/bmc-bench.md.

    python bench/bmc_compare.py                   # up to 900 s per bounded run (the longest here: ~3 min)
    python bench/bmc_compare.py --time-limit 10   # a quick look: the slowest runs are marked timed out
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

from modelcheck.engine import STRATEGIES, SearchOptions, Verdict, check  # noqa: E402
from modelcheck.spec import bind, load_spec  # noqa: E402


def length(result) -> str:
    return str(len(result.counterexample)) if result.counterexample else "-"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--time-limit", type=float, default=900.0, help="seconds per bounded run")
    parser.add_argument("--policy", action="append", help="only these policies (repeatable)")
    args = parser.parse_args()
    lines = [f"# Bounded model checking against breadth-first search ({date.today()}, Python "
             f"{platform.python_version()})", "",
             f"Written by `python bench/bmc_compare.py --time-limit {args.time_limit:g}`. Each spec's own "
             "invariants; the bounded run's depth bound is max(BFS depth + 1, BFS states), and it stops by itself "
             "once the newest frame holds no state the earlier ones do not, or no run of the next length "
             "repeats no state ('BMC depth' is where it stopped); its "
             "transitions are the guarded updates symbolic execution found (paths through the step code), not "
             "explored transitions. 'agree': same verdict and, where violated, same shortest length. O16's references "
             "held outside in an unknown number: BFS searches its symbolic world, the bounded run takes the count as "
             "a free parameter (CowWorld.with_held_as_parameters).", "",
             "| spec | policy | BFS verdict | BFS length | BFS states | BFS depth | BFS s | BMC verdict | BMC length | "
             "BMC depth | BMC guarded updates | BMC s | agree | faster |",
             "|---|---|---|---:|---:|---:|---:|---|---:|---:|---:|---:|---|---|"]
    counts = {"agree": 0, "disagree": 0, "incomplete": 0, "bfs faster": 0, "bmc faster": 0}
    for path in sorted((ROOT / "specs").glob("*.py")):
        loaded = bind(path, load_spec(path))
        # references held in an unknown number: parameters, where the world has them
        parametric = loaded.world.variant("parameters") or loaded.world
        for policy in loaded.policies(args.policy):
            model = loaded.world.model(policy, loaded.spec.invariants)
            bounded = parametric.model(policy, loaded.spec.invariants)
            if STRATEGIES["bmc"].accepts(bounded, SearchOptions(strategy="bmc", depth=1)) is not None:
                break
            started = time.perf_counter()
            bfs = check(model, SearchOptions(store="dict"))
            t_bfs = time.perf_counter() - started
            started = time.perf_counter()
            bmc = check(bounded, SearchOptions(strategy="bmc", depth=max(bfs.stats.depth + 1, bfs.stats.states),
                                             time_limit=args.time_limit))
            t_bmc = time.perf_counter() - started
            if bmc.verdict is Verdict.INCOMPLETE:
                agree = "timed out" if "time limit" in (bmc.incomplete_reason or "") else "incomplete"
                counts["incomplete"] += 1
            else:
                same = (bfs.verdict, length(bfs)) == (bmc.verdict, length(bmc))
                agree = "yes" if same else "NO"
                counts["agree" if same else "disagree"] += 1
            faster = "BMC" if t_bmc < t_bfs else "BFS"
            counts["bmc faster" if faster == "BMC" else "bfs faster"] += 1
            lines.append(f"| {path.stem} | {policy} | {bfs.verdict.value} | {length(bfs)} | {bfs.stats.states:,} | "
                         f"{bfs.stats.depth} | {t_bfs:.3f} | {bmc.verdict.value} | {length(bmc)} | {bmc.stats.depth} | "
                         f"{bmc.stats.transitions:,} | "
                         f"{t_bmc:.2f} | {agree} | {faster} |")
            print(lines[-1], flush=True)
    lines += ["", "Summary: " + ", ".join(f"{k} {v}" for k, v in counts.items()) + "."]
    (ROOT / "results" / "bmc-bench.md").write_text("\n".join(lines) + "\n")
    return 1 if counts["disagree"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
