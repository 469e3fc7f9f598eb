"""The benchmarks still run: each store and the workers on the smallest reference point (figures not judged)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("store, workers", [("dict", 1), ("compact", 1), ("fingerprint", 2)])
def test_the_reference_bench_runs_a_point(store, workers):
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "reference.py"), "--point", "2", "1", "0", "page_count",
                           "--store", store, "--workers", str(workers)], capture_output=True, text=True, check=True)
    row = json.loads(proc.stdout)
    assert (row["states"], row["store"], row["workers"]) == (124, store, workers)
