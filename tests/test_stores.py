"""Compact and fingerprint stores, and the hash-partitioned workers, against the dict store.

The dict store is the reference: the other stores must find the same verdicts,
the same shortest counterexample lengths and, when a run explores everything,
exactly the same number of states and transitions.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from modelcheck.cow import CowWorld
from modelcheck.engine import SearchOptions, check
from modelcheck.engine import WorkerFailed
from modelcheck.engine.errors import NotSearchable
from modelcheck.engine.compiled_store import CompiledStore
from modelcheck.engine.stores import (CompactStore, FingerprintStore, StateLog, fingerprints, owner_of,
                                      row_fingerprints)
from modelcheck.faces.cli import main
from modelcheck.spec import bind, load_spec
from tests.toy_models import Counter, NaiveLock

ROOT = Path(__file__).resolve().parents[1]
SPECS = sorted((ROOT / "specs").glob("*.py"))
CONFIGS = [dict(store="compact"), dict(store="fingerprint"), dict(store="compact", workers=2), dict(store="compiled")]
# and on the grid (every spec under every policy would start a pair of worker processes each time)
GRID_CONFIGS = CONFIGS + [dict(store="compiled", workers=2)]


def summary(result):
    trace = result.counterexample
    return result.verdict, None if trace is None else len(trace)


# -- the tables --------------------------------------------------------------------------------

def test_batches_insert_like_a_set_and_the_table_grows():
    rng = np.random.default_rng(7)
    store, seen = FingerprintStore(capacity=16), set()
    for _ in range(40):
        fps = rng.integers(1, 3000, size=500, dtype=np.uint64)  # many repeats, within and across batches
        new = store.insert(fps)
        expected = []
        for f in fps.tolist():
            expected.append(f not in seen)
            seen.add(f)
        assert new.tolist() == expected
    assert store.count == len(seen) and store.capacity > 16
    assert store.count <= 0.8 * store.capacity and store.nbytes / store.count <= 16


@pytest.mark.parametrize("exact", [CompactStore, CompiledStore])
def test_compact_store_tells_apart_states_whose_hashes_collide(exact):
    store = exact(key_bytes=4, capacity=8)
    fps = np.array([5, 5, 5, 5, 9], dtype=np.uint64)  # one hash, three different keys, one repeated
    keys = bytes([1, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 3, 0, 0, 0, 1, 0, 0, 0])
    assert store.insert(fps, keys).tolist() == [True, True, False, True, True]
    assert store.insert(np.array([5], dtype=np.uint64), bytes([3, 0, 0, 0])).tolist() == [False]
    grow = np.arange(100, 200, dtype=np.uint64)
    store.insert(grow, bytes(400))  # 100 new hashes with one key: still 100 distinct (hash, key) pairs
    assert store.count == 4 + 100
    assert store.insert(fps, keys).tolist() == [False] * 5  # survives growing
    assert store.log.count == store.count


def test_the_state_log_spans_blocks(monkeypatch):
    monkeypatch.setattr(StateLog, "BLOCK_BYTES", 16)  # four states of 4 bytes a block
    store = CompactStore(key_bytes=4, capacity=4)
    keys = np.arange(40, dtype=np.uint16).tobytes()  # 20 states of two uint16 (4 bytes), over 5 blocks
    fps = np.arange(1, 21, dtype=np.uint64) % np.uint64(3) + np.uint64(1)  # three hashes: many collisions
    assert store.insert(fps, keys).all()
    assert not store.insert(fps, keys).any()
    logged = store.log.rows(np.arange(20)).view(np.uint16).reshape(20, 2)
    assert sorted(map(tuple, logged.tolist())) == [(2 * i, 2 * i + 1) for i in range(20)]


def test_a_fingerprint_store_takes_equal_fingerprints_for_one_state_and_says_how_likely_that_was():
    store = FingerprintStore()
    assert store.insert(np.array([5, 5], dtype=np.uint64)).tolist() == [True, False]
    assert store.miss_probability() == pytest.approx(2 * 1 / 2 ** 64)


def test_fingerprints_are_spread_and_owned_by_one_partition_each():
    fps = fingerprints([hash((i, 0, 3)) for i in range(4096)])
    assert len(set(fps.tolist())) == 4096 and 0 not in fps.tolist()
    owners = owner_of(fps, 2)
    assert 1800 < int((owners == 0).sum()) < 2300
    assert len(set((fps % np.uint64(1024)).tolist())) > 900  # the slot bits are used evenly


# -- the search over them ----------------------------------------------------------------------

@pytest.mark.parametrize("config", GRID_CONFIGS, ids=lambda c: "-".join(f"{v}" for v in c.values()))
def test_toy_models_give_the_dict_stores_answers(config):
    for model in (NaiveLock(atomic=False), NaiveLock(atomic=True)):
        for stop in (True, False):
            plain = check(model, SearchOptions(stop_at_first=stop))
            other = check(model, SearchOptions(stop_at_first=stop, **config))
            assert summary(other) == summary(plain)
            if not stop:
                assert (other.stats.states, other.stats.transitions) == (plain.stats.states, plain.stats.transitions)


def test_a_packed_store_refuses_states_that_are_not_flat_tuples_of_small_ints():
    with pytest.raises(ValueError, match="flat tuple of ints"):
        check(Counter(limit=3), SearchOptions(store="compact"))


@pytest.mark.parametrize("path", SPECS, ids=[p.stem for p in SPECS])
def test_every_spec_same_verdicts_and_lengths_in_every_store(path):
    loaded = bind(path, load_spec(path))
    for policy in loaded.policies():
        model = loaded.world.model(policy, loaded.spec.invariants)
        plain = check(model, SearchOptions())
        for config in CONFIGS:
            assert summary(check(model, SearchOptions(**config))) == summary(plain), (loaded.spec.id, policy, config)


@pytest.mark.parametrize("point", [(2, 1, 0), (2, 2, 0), (3, 1, 1)])
def test_reference_grid_same_counts_in_every_store(point):
    for policy in ("mapcount", "page_count"):
        model = CowWorld.reference(*point).model(policy, ["no_leak_across_fork"])
        for reduce in (False, True):
            plain = check(model, SearchOptions(stop_at_first=False, reduce=reduce))
            for config in GRID_CONFIGS:
                other = check(model, SearchOptions(stop_at_first=False, reduce=reduce, **config))
                assert (other.verdict, other.stats.states, other.stats.transitions, other.stats.depth,
                        other.counts) == (plain.verdict, plain.stats.states, plain.stats.transitions,
                                          plain.stats.depth, plain.counts), (point, policy, reduce, config)
                assert [v.count for v in other.violations] == [v.count for v in plain.violations]


def test_limits_end_a_worker_run_as_incomplete():
    model = CowWorld.reference(3, 1, 1).model("page_count", ["no_leak_across_fork"])
    for config in GRID_CONFIGS:
        result = check(model, SearchOptions(max_states=500, **config))
        assert result.verdict.value == "incomplete" and "state limit of 500" in result.incomplete_reason


def test_traces_found_by_workers_replay(tmp_path, capsys):
    traces = tmp_path / "traces.json"
    for spec in ("vmsplice.py", "o8_uffd_wp_stale_tlb.py", "c12a_vmsplice_child_swapped.py"):
        for flags in (["--store", "fingerprint"], ["--workers", "2", "--reduce"]):
            assert main([str(ROOT / "specs" / spec), "--quiet", "--trace-out", str(traces), *flags]) == 0
            capsys.readouterr()
            assert main(["replay", str(traces), "--trust-spec", "--quiet"]) == 0, capsys.readouterr().out


def test_json_names_the_store_and_the_chance_of_a_miss(capsys):
    assert main([str(ROOT / "specs" / "reference.py"), "--param", "M=2", "--policy", "page_count", "--no-stop",
                 "--json", "--store", "fingerprint", "--workers", "2", "--quiet"]) == 0
    run = json.loads(capsys.readouterr().out)["results"][0]
    assert run["store"] == "fingerprint" and run["workers"] == 2 and run["states"] == 17352
    assert 0 < run["miss_probability"] < 1e-9 and 0 < run["store_bytes"] / run["states"] <= 16


@pytest.mark.parametrize("argv, message", [
    (["--store", "dict", "--workers", "2"], "several workers need a packed store (compact or fingerprint)"),
    (["--dfs", "--store", "fingerprint"], "depth-first search runs in one process"),
    (["--workers", "0"], "workers must be at least 1"),
])
def test_store_mistakes_are_one_line(argv, message, capsys):
    assert main([str(ROOT / "specs" / "vmsplice.py"), *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_a_worker_that_dies_ends_the_run_with_a_clear_error():
    class Dies(NaiveLock):
        def successors(self, s):
            if s == (1, 0, 0):
                import os
                os._exit(9)  # as the kernel's OOM killer would end it: no report, no traceback
            return super().successors(s)

    with pytest.raises(WorkerFailed, match=r"exit status 9\) ended without reporting"):
        check(Dies(), SearchOptions(store="compact", workers=2, stop_at_first=False))


def test_workers_report_progress_within_a_level(monkeypatch):
    from modelcheck.engine.strategies import parallel
    from modelcheck.engine.progress import Progress

    class Recorder(Progress):
        def __init__(self):
            self.seen = []

        def update(self, *, states, transitions, frontier, depth):
            self.seen.append((states, transitions, depth))

    monkeypatch.setattr(parallel, "PROGRESS_EVERY", 0.0)  # a message after every batch
    recorder = Recorder()
    model = CowWorld.reference(3, 1, 1).model("page_count", ["no_leak_across_fork"])
    result = check(model, SearchOptions(workers=2, stop_at_first=False), progress=recorder)
    assert len(recorder.seen) > result.stats.depth + 1  # more than one update per level
    assert recorder.seen[-1][0] == result.stats.states
    assert all(a[0] <= b[0] for a, b in zip(recorder.seen, recorder.seen[1:]))  # states never go back


def test_a_wide_row_gets_blocks_of_a_bounded_size_not_two_million_rows():
    """W(64,64,0) rows are 16 kB: a block of 2**21 of them (32 GiB) could not even be allocated."""
    log = StateLog(16_642)
    log.append(np.zeros((3, 16_642), dtype=np.uint8))
    assert log.blocks[0].nbytes <= StateLog.BLOCK_BYTES


def test_row_fingerprints_take_any_width_and_keep_the_first_columns_keys():
    narrow = np.arange(30, dtype=np.int64).reshape(3, 10)
    before = row_fingerprints(narrow)
    wide = np.zeros((3, 1500), dtype=np.int64)
    wide[:, :10] = narrow
    assert len(set(row_fingerprints(wide).tolist())) == 3
    assert row_fingerprints(narrow).tolist() == before.tolist()
    assert before.tolist() == [11624170496889082660, 15783433413667040871, 6855689893518977478]  # as before


def test_a_store_that_would_grow_past_its_budget_says_so_with_the_estimate():
    from modelcheck.engine import StopReason, Stopped

    store = FingerprintStore()
    store.budget = 1  # byte: any growth passes it
    with pytest.raises(Stopped) as stopped:
        store.insert(np.arange(1, 5000, dtype=np.uint64))
    assert stopped.value.reason is StopReason.MEMORY_LIMIT
    assert "fingerprint store of" in stopped.value.detail and "would grow to" in stopped.value.detail


@pytest.mark.parametrize("width", [1, 22, 600])  # 600: the keys of a second block of columns
def test_the_compiled_row_fingerprints_are_the_numpy_ones(width):
    from modelcheck.engine.compiled_store import compiled_row_fingerprints
    rng = np.random.default_rng(width)
    rows = rng.integers(0, 1 << 16, size=(300, width)).astype(np.uint16)
    rows[0] = 0  # a row whose mix may come out 0 is moved to 1 by both
    assert compiled_row_fingerprints(rows).tolist() == row_fingerprints(rows).tolist()
    assert compiled_row_fingerprints(rows.astype(np.int64)).tolist() == row_fingerprints(rows).tolist()


def test_the_compiled_store_skips_exactly_the_successors_equal_to_their_parents():
    rng = np.random.default_rng(11)
    before = rng.integers(0, 4, size=(50, 9)).astype(np.uint16)
    parents = rng.integers(0, 50, size=2000)
    after = before[parents].copy()
    changed = rng.random(2000) < 0.6
    rows = np.flatnonzero(changed)
    after[rows, rng.integers(0, 9, size=rows.size)] += 1
    kept, fps = CompiledStore.successors_to_look_up(after, before, parents)
    assert kept.tolist() == after[rows].tolist() and fps.tolist() == row_fingerprints(after[rows]).tolist()
    kept, fps = CompactStore.successors_to_look_up(after, before, parents)  # the numpy store looks up all
    assert kept.tolist() == after.tolist() and fps.tolist() == row_fingerprints(after).tolist()


def test_the_compiled_store_keeps_a_tag_and_an_index_in_one_word_a_slot_and_resumes_from_the_tags():
    rng = np.random.default_rng(5)
    rows = rng.integers(0, 1 << 16, size=(5000, 3)).astype(np.uint16)
    rows = np.unique(rows, axis=0)
    fps = row_fingerprints(rows)
    fps[:40] = fps[:40] & np.uint64(0xFFFF)  # equal tags above different high bits: told apart by the rows
    fps[40:80] = fps[:40] | np.uint64(1 << 40)
    store = CompiledStore(key_bytes=6, capacity=16)
    assert store.insert(fps, rows.tobytes()).all() and store.count == len(rows)
    assert store.slots.dtype == np.uint64 and store.nbytes == store.capacity * 8 + len(rows) * 6
    upto = len(rows) // 2  # a checkpoint at a level boundary: the later states belong to the level under way
    again = CompiledStore.restored(6, store.saved(upto, store.lookups))
    assert again.count == upto and again.lookups == store.lookups
    assert again.insert(fps, rows.tobytes()).tolist() == [False] * upto + [True] * (len(rows) - upto)
    with pytest.raises(NotSearchable, match="saved by another store"):
        CompactStore.restored(6, store.saved(upto, 0))


def test_on_a_cold_cache_the_store_compiles_its_loops_in_another_process_for_this_one_to_load(tmp_path):
    program = "\n".join([
        "from modelcheck.engine.compiled_store import CompiledStore, _cold, _kernels, warm_up",
        "k = _kernels()",
        "assert _cold(k)",
        "aside = CompiledStore.compile_aside(30)",
        "assert aside is not None and aside.wait() == 0 and not _cold(k)",
        "assert CompiledStore.compile_aside(30) is None  # warm: nothing to start",
        "warm_up(30)",
        "loops = (k.insert, k.rehash, k.fingerprint, k.moved_fingerprints)",
        "assert all(loop.stats.cache_hits and not loop.stats.cache_misses for loop in loops), "
        "[loop.stats for loop in loops]",
    ])
    subprocess.run([sys.executable, "-c", program], env=dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path)), check=True,
                   timeout=300)
