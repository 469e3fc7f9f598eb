"""Benchmark: how long a checkpoint of a large search takes to write and read, and how large it is.

The reference world W(P,M,S) (every reduction off) is searched until about
``--states`` are stored; the search is then asked to stop, as a signal would,
and saves its last level boundary through the same path as --checkpoint (the
snapshot pickled, then written atomically with its header and checksum).

    python bench/checkpoint.py                            # W(2,3,0) page_count, ~1M states, each store
    python bench/checkpoint.py --point 2 2 1 --states 100000 --store dict
"""

from __future__ import annotations

import argparse
import pickle
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from modelcheck.cow import CowWorld  # noqa: E402
from modelcheck.engine import Checkpoints, SearchOptions, check  # noqa: E402
from modelcheck.engine import checkpoint  # noqa: E402
from modelcheck.engine.progress import Progress  # noqa: E402


class Watch(Progress):
    """Keeps the latest state count the search reports."""

    def __init__(self) -> None:
        self.states = 0

    def update(self, *, states: int, transitions: int, frontier: int, depth: int) -> None:
        self.states = states


def measure(point: tuple[int, int, int], policy: str, store: str, workers: int, target: int) -> dict:
    model = CowWorld.reference(*point).model(policy, ["no_leak_across_fork"])
    watch = Watch()
    figures: dict = {}
    with tempfile.TemporaryDirectory() as where:
        path = Path(where) / "bench.ck"

        def save(snapshot: object) -> None:
            started = time.perf_counter()
            size = checkpoint.write(path, {"bench": 1}, {"searches": {policy: pickle.dumps(snapshot, protocol=5)}})
            figures.update(write_seconds=time.perf_counter() - started, bytes=size,
                           saved_states=snapshot["states"])  # type: ignore[index]

        options = SearchOptions(stop_at_first=False, store=store, workers=workers)
        result = check(model, options, progress=watch,
                       checkpoints=Checkpoints(save=save, every=1e9, requested=lambda: watch.states >= target))
        if not figures:
            raise SystemExit(f"the search ended ({result.stats.states:,} states) before {target:,}: no checkpoint")
        started = time.perf_counter()
        body = checkpoint.read(path, {"bench": 1})
        pickle.loads(body["searches"][policy])
        figures["read_seconds"] = time.perf_counter() - started
    return figures


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--point", type=int, nargs=3, default=(2, 3, 0), metavar=("P", "M", "S"))
    p.add_argument("--policy", default="page_count")
    p.add_argument("--states", type=int, default=1_000_000)
    p.add_argument("--store", action="append", help="dict, compact, fingerprint (default: each)")
    p.add_argument("--workers", type=int, default=1)
    args = p.parse_args()
    print(f"W{tuple(args.point)} {args.policy}, stopped at about {args.states:,} states, workers {args.workers}")
    print("| store | states saved | write s | read s | bytes | bytes/state |")
    print("|---|---:|---:|---:|---:|---:|")
    for store in args.store or ["dict", "compact", "fingerprint"]:
        f = measure(tuple(args.point), args.policy, store, args.workers, args.states)
        print(f"| {store} | {f['saved_states']:,} | {f['write_seconds']:.2f} | {f['read_seconds']:.2f} | "
              f"{f['bytes']:,} | {f['bytes'] / max(1, f['saved_states']):.1f} |", flush=True)


if __name__ == "__main__":
    main()
