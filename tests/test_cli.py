"""The command line: verdicts, exit statuses, one-line errors, JSON, traces and replay."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from modelcheck.faces.cli import main

ROOT = Path(__file__).resolve().parents[1]
VMSPLICE = str(ROOT / "specs" / "vmsplice.py")
REFERENCE = str(ROOT / "specs" / "reference.py")


def cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def write_spec(tmp_path, body, name="spec.py"):
    path = tmp_path / name
    path.write_text("from modelcheck import Spec\nfrom modelcheck.cow import CowWorld\n" + body)
    return str(path)


def test_main_job_finds_the_cve_under_mapcount_only(capsys):
    code, out, err = cli(capsys, VMSPLICE, "--quiet")
    assert code == 0
    rows = {line.split()[0]: line.split() for line in out.splitlines()
            if line.startswith(("mapcount ", "page_count "))}
    assert rows["mapcount"][1] == "violated" and rows["page_count"][1] == "holds"
    assert "shortest counterexample of 5 steps" in out
    assert " 5. child1 pipe_read()" in out
    assert "stated verdicts as expected" in out and "differ" not in out


def test_python_dash_m_runs_as_a_program():
    proc = subprocess.run([sys.executable, "-m", "modelcheck", VMSPLICE, "--quiet"],
                          capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert "mapcount" in proc.stdout and proc.stderr == ""


@pytest.mark.parametrize("point, policy, states", [
    ("P=2 M=2 S=0", "page_count", 17_352),
    ("P=2 M=2 S=0", "mapcount", 5_518),
    ("P=3 M=1 S=1", "page_count", 32_048),
])
def test_no_stop_counts_match_the_reference_through_the_cli(capsys, point, policy, states):
    params = [arg for p in point.split() for arg in ("--param", p)]
    code, out, _ = cli(capsys, REFERENCE, *params, "--policy", policy, "--no-stop", "--json", "--quiet")
    assert code == 0
    document = json.loads(out)
    assert document["results"][0]["states"] == states


def test_json_document_schema(capsys):
    code, out, _ = cli(capsys, VMSPLICE, "--json", "--quiet")
    assert code == 0
    doc = json.loads(out)
    assert doc["schema"] == "modelcheck.result/1"
    assert doc["spec_id"] == "C3" and doc["params"] == {"P": 2, "M": 1}
    by_policy = {r["policy"]: r for r in doc["results"]}
    for r in doc["results"]:
        for key in ("policy", "verdict", "states", "transitions", "depth", "seconds", "counterexample",
                    "expected", "as_expected", "counterexample_length"):
            assert key in r
    mc, pc = by_policy["mapcount"], by_policy["page_count"]
    assert mc["verdict"] == "violated" and len(mc["counterexample"]) == 5 and mc["counterexample_length"] == 5
    step = mc["counterexample"][-1]
    assert set(step) == {"index", "actor", "label", "changes", "state", "properties"}
    assert step["actor"] == "child1" and step["label"] == "child1 pipe_read()"
    assert mc["violation"]["property"] == "no_leak_to_child"
    assert pc["verdict"] == "holds" and pc["counterexample"] is None


def test_dfs_reaches_the_same_verdicts(capsys):
    code, out, _ = cli(capsys, VMSPLICE, "--dfs", "--json", "--quiet")
    assert code == 0
    verdicts = {r["policy"]: r["verdict"] for r in json.loads(out)["results"]}
    assert verdicts["mapcount"] == "violated"
    assert {v for p, v in verdicts.items() if p not in ("mapcount", "dirty_cow")} == {"holds"}  # (dirty_cow: mapcount
    assert verdicts["dirty_cow"] == "violated"  # with the FOLL_FORCE rule before 4.9, which C3 does not use)


def test_exit_1_when_a_verdict_differs(tmp_path, capsys):
    spec = write_spec(tmp_path, 'SPEC = Spec(id="x", title="wrong on purpose", world=lambda: CowWorld(2, 1, 0),\n'
                                '            invariants=["no_leak_across_fork"], expect={"page_count": "violated"})\n')
    code, out, _ = cli(capsys, spec, "--quiet")
    assert code == 1
    assert "UNEXPECTED" in out
    # a spec that states some expectations leaves the others unknown: they never fail the run
    code, out, _ = cli(capsys, spec, "--quiet", "--policy", "mapcount")
    assert code == 0 and "no expectation stated for mapcount" in out
    # a spec that states none expects every policy to hold: mapcount breaks it
    silent = write_spec(tmp_path, 'SPEC = Spec(id="y", title="no expectations", world=lambda: CowWorld(2, 1, 0),\n'
                                  '            invariants=["no_leak_across_fork"])\n', name="silent.py")
    code, out, _ = cli(capsys, silent, "--quiet", "--policy", "mapcount", "--policy", "page_count")
    assert code == 1 and "1 of 2 verdicts differ from the spec's expectation: mapcount" in out


def test_exit_3_when_a_run_ends_incomplete(capsys):
    code, out, _ = cli(capsys, REFERENCE, "--policy", "page_count", "--max-states", "10", "--quiet")
    assert code == 3
    assert "incomplete" in out and "state limit of 10 reached" in out


def test_time_limit_is_incomplete_not_holds(capsys):
    code, out, _ = cli(capsys, REFERENCE, "--param", "P=3", "--param", "M=2", "--policy", "page_count",
                       "--time-limit", "0.2", "--json", "--quiet")
    assert code == 3
    assert json.loads(out)["results"][0]["verdict"] == "incomplete"


@pytest.mark.parametrize("argv, needle", [
    (["specs/nope.py"], "specs/nope.py: no such spec file"),
    ([VMSPLICE, "--policy", "nope"], "unknown policy 'nope'"),
    ([REFERENCE, "--param", "P=0"], "P=0 M=1 S=0: processes (P) must be at least 1"),
    ([REFERENCE, "--param", "P=abc"], "parameter P takes a whole number, not 'abc'"),
    ([REFERENCE, "--param", "Q=1"], "unknown parameter 'Q'"),
    ([REFERENCE, "--param", "P"], "--param takes NAME=VALUE"),
    ([VMSPLICE, "--max-states", "0"], "max_states must be at least 1"),
    ([VMSPLICE, "--max-states", "many"], "invalid int value"),
    ([VMSPLICE, "--bfs", "--dfs"], "not allowed with argument"),
    ([], "the following arguments are required: spec"),
    (["replay"], "the following arguments are required: file"),
])
def test_usage_errors_are_one_line_and_exit_2(capsys, argv, needle):
    code, out, err = cli(capsys, *argv)
    assert code == 2
    assert err.count("\n") == 1 and needle in err, err
    assert "Traceback" not in err


@pytest.mark.parametrize("body, needle", [
    ("1/0\n", "the spec raised ZeroDivisionError: division by zero (line 3)"),
    ("x = 1\n", "defines no SPEC"),
    ("SPEC = 3\n", "SPEC is a int, not a modelcheck Spec"),
    ("SPEC = Spec(id='x', title='t', world=lambda: CowWorld(2, 1, 0), invariants=[])\n",
     "needs at least one invariant"),
    ("SPEC = Spec(id='x', title='t', world=lambda: CowWorld(2, 1, 0), invariants=['nope'])\n",
     "unknown invariant 'nope'"),
    ("SPEC = Spec(id='x', title='t', world=lambda: CowWorld(2, 1, 0), invariants=['no_leak_to_child'],\n"
     "            expect={'mapcount': 'broken'})\n", "must be one of holds, violated"),
    ("def broken(:\n", "syntax error at line 3"),
])
def test_bad_spec_files_are_one_line_and_exit_2(tmp_path, capsys, body, needle):
    spec = write_spec(tmp_path, body)
    code, _, err = cli(capsys, spec, "--quiet")
    assert code == 2
    assert err.startswith(f"modelcheck: {spec}: ") and needle in err and err.count("\n") == 1, err


def test_trace_out_and_replay(tmp_path, capsys):
    traces = tmp_path / "traces.json"
    code, _, err = cli(capsys, VMSPLICE, "--quiet", "--trace-out", str(traces))
    assert code == 0 and "wrote 2 trace(s)" in err  # dirty_cow's and mapcount's
    doc = json.loads(traces.read_text())
    assert doc["schema"] == "modelcheck.trace/3"
    assert [t["policy"] for t in doc["traces"]] == ["dirty_cow", "mapcount"]
    trace = doc["traces"][1]
    assert trace["policy"] == "mapcount" and trace["property"] == "no_leak_to_child" and len(trace["steps"]) == 5

    code, out, _ = cli(capsys, "replay", str(traces), "--trust-spec")
    assert code == 0
    assert "replays; no_leak_to_child violated at step 5" in out and "5. child1 pipe_read()" in out

    # an edited trace: a step that is not enabled there
    trace["steps"][2]["label"] = "child1 vmsplice(a0)"
    trace["steps"][2]["state"] = None
    tampered = tmp_path / "tampered.json"
    tampered.write_text(json.dumps(doc))
    code, out, _ = cli(capsys, "replay", str(tampered), "--trust-spec")
    assert code == 1
    assert "does not replay: step 3 'child1 vmsplice(a0)' is not enabled" in out

    # an edited state: the step is enabled but leads elsewhere
    doc = json.loads(traces.read_text())
    doc["traces"][0]["steps"][3]["state"]["nforks"] = 7
    tampered.write_text(json.dumps(doc))
    code, out, _ = cli(capsys, "replay", str(tampered), "--trust-spec")
    assert code == 1 and "step 4" in out and "other than the recorded one" in out

    # the same steps under a policy where they are harmless
    doc = json.loads(traces.read_text())
    doc["traces"][0]["policy"] = "page_count"
    tampered.write_text(json.dumps(doc))
    code, out, _ = cli(capsys, "replay", str(tampered), "--trust-spec")
    assert code == 1


@pytest.mark.parametrize("content, needle", [
    ("not json at all", "not JSON"),
    ('{"schema": "something else"}', "not a modelcheck trace file"),
    ('{"schema": "modelcheck.trace/1", "traces": [{"spec": "x"}]}', "traces[0]: 'params' is a required property"),
])
def test_replay_of_something_that_is_not_a_trace_is_a_usage_error(tmp_path, capsys, content, needle):
    path = tmp_path / "bad.json"
    path.write_text(content)
    code, _, err = cli(capsys, "replay", str(path))
    assert code == 2 and needle in err and err.count("\n") == 1


def test_policies_lists_each_policy_with_its_commit(capsys):
    code, out, _ = cli(capsys, "policies")
    assert code == 0
    assert "page_count" in out and "09854ba94c6a" in out and "mapcount" in out


def test_ctrl_c_ends_the_run_incomplete_and_says_what_was_explored():
    import signal
    import time

    proc = subprocess.Popen([sys.executable, "-m", "modelcheck", REFERENCE, "--param", "P=3", "--param", "M=2",
                             "--policy", "page_count", "--policy", "mapcount", "--no-stop", "--quiet"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    time.sleep(2.5)  # well past start-up: the search of 50M states is under way
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 3
    assert "incomplete: interrupted by the user" in out
    assert "states explored; not run: mapcount" in err and "Traceback" not in err


LOAD_TIME_MISTAKES = [
    ("covers=['fork_cpy'], world=lambda: CowWorld.scripted({'parent': ['pin_rw a0 -> b', 'fork']})",
     "covers names 'fork_cpy', which no run of this world reports"),
    ("covers=['end:child1'], world=lambda: CowWorld.scripted({'parent': ['store a0']})",
     "covers names 'end:child1'"),
    ("covers=['action:store'], world=lambda: CowWorld(processes=2, addresses=1)", "covers names 'action:store'"),
    ("world=lambda: CowWorld.scripted({'parent': ['put b', 'pin_rw a0 -> b']})",
     "'put b' (operation 1) uses holder 'b' before the thread takes it (operation 2)"),
    ("world=lambda: CowWorld.scripted({'parent': ['get_rw a0 -> b', 'dma_read c', 'dma_write b', 'dma_read b'],"
     " 'parent.2': ['dma_write c', 'get_rw a0 -> c']})",
     "'dma_write c' (operation 1) uses holder 'c' before the thread takes it (operation 2)"),
]


@pytest.mark.parametrize("spec, needle", LOAD_TIME_MISTAKES)
def test_a_spec_is_checked_when_it_is_loaded(tmp_path, capsys, spec, needle):
    """A covers entry no run of the world can report, or a GUP reference its own thread uses before it takes
    it: one line naming the file, exit status 2, before anything runs."""
    path = write_spec(tmp_path, f"SPEC = Spec(id='x', title='t', invariants=['no_lost_write'], {spec})\n")
    code, out, err = cli(capsys, path, "--quiet")
    assert (code, out) == (2, "") and err.count("\n") == 1 and err.startswith(f"modelcheck: {path}: "), err
    assert needle in err


def test_a_reference_another_thread_takes_may_be_used_in_any_order(tmp_path, capsys):
    path = write_spec(tmp_path, "SPEC = Spec(id='x', title='t', invariants=['pin_coherent'], covers=['fork_copy'],\n"
                                "            world=lambda: CowWorld.scripted({'parent': ['pin_rw a0 -> b', 'fork'],\n"
                                "                                             'parent.2': ['put b']}))\n")
    code, _, err = cli(capsys, path, "--quiet", "--policy", "page_count_fork_copy")
    assert code in (0, 1) and err == ""


def test_python_dash_m_refuses_a_bad_spec_in_one_line(tmp_path):
    path = write_spec(tmp_path, "SPEC = Spec(id='x', title='t', invariants=['pin_coherent'], covers=['fork_cpy'],\n"
                                "            world=lambda: CowWorld.scripted({'parent': ['pin_rw a0 -> b', 'fork']}))\n")
    proc = subprocess.run([sys.executable, "-m", "modelcheck", path], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith(f"modelcheck: {path}: covers names 'fork_cpy'")
    assert "Traceback" not in proc.stderr


def test_old_trace_files_replay_or_are_refused_in_one_line(tmp_path, capsys):
    """Format 1 named a run's parameters by state slot: such a trace is refused, the others still replay."""
    traces = tmp_path / "traces.json"
    assert cli(capsys, VMSPLICE, "--quiet", "--trace-out", str(traces))[0] == 0
    doc = json.loads(traces.read_text())
    doc["schema"] = "modelcheck.trace/1"
    for trace in doc["traces"]:
        trace.pop("variants")
        trace["symbolic_refs"] = False
        trace["parameters"] = {}
    traces.write_text(json.dumps(doc))
    code, out, _ = cli(capsys, "replay", str(traces), "--spec", VMSPLICE)
    assert code == 0 and "replays" in out
    doc["traces"][0]["parameters"] = {"17": 1023}
    traces.write_text(json.dumps(doc))
    code, _, err = cli(capsys, "replay", str(traces), "--spec", VMSPLICE)
    assert code == 2 and "old format" in err and "find it again" in err and err.count("\n") == 1


def test_trace_parameters_are_named(tmp_path, capsys):
    traces = tmp_path / "traces.json"
    spec = str(ROOT / "specs" / "o16_maybe_pinned_false_positive.py")
    code, _, _ = cli(capsys, spec, "--quiet", "--engine", "bmc", "--depth", "12", "--policy", "page_count_fork_copy",
                     "--trace-out", str(traces))
    assert code == 0
    parameters = json.loads(traces.read_text())["traces"][0]["parameters"]
    assert parameters == {"references held outside on a0": 1023}
    code, out, _ = cli(capsys, "replay", str(traces), "--trust-spec", "--quiet")
    assert code == 0 and "replays" in out


@pytest.mark.parametrize("extra, status", [((), 1), (("--max-states", "3"), 3)])
def test_a_reader_that_stops_reading_does_not_change_the_exit_status(tmp_path, extra, status):
    """``python -m modelcheck SPEC | head``: the verdicts' status (1 unexpected, 3 incomplete), not 0."""
    spec = write_spec(tmp_path, "SPEC = Spec(id='x', title='t', invariants=['no_leak_to_child'],\n"
                                "    world=lambda: CowWorld.scripted({'parent': ['fork', 'store a0'],\n"
                                "                                     'child1': ['vmsplice a0', 'munmap a0', 'pipe_read']}),\n"
                                "    expect={'mapcount': 'holds'}, policies=['mapcount'])\n")
    proc = subprocess.Popen([sys.executable, "-m", "modelcheck", spec, "--quiet", *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT)
    proc.stdout.close()  # the reader leaves before the report is written
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == status, err
    assert "Traceback" not in err and "BrokenPipe" not in err


def test_help_cites_only_documents_of_the_repository_and_says_the_default_store(capsys):
    """--help of every command names only files that are here, and the default store it states is the one
    a run picks (compact for the open reference world, dict for a scripted one)."""
    import re

    for command in ([], ["replay"], ["policies"], ["matrix"]):
        with pytest.raises(SystemExit):
            main([*command, "--help"])
        shown = " ".join(capsys.readouterr().out.split())
        for cited in re.findall(r"[\w./-]+\.md\b", shown):
            assert (ROOT / cited).exists() or cited in ("matrix.md",), f"--help cites {cited}, not in the repository"
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "default: compiled where the world offers batch successors" in " ".join(capsys.readouterr().out.split())
    stores = {}
    for spec in (REFERENCE, str(ROOT / "specs" / "c1_basic_cow.py")):
        code, out, _ = cli(capsys, spec, "--quiet", "--json", "--policy", "page_count")
        stores[Path(spec).name] = json.loads(out)["results"][0]["store"]
    assert stores == {"reference.py": "compiled", "c1_basic_cow.py": "dict"}


@pytest.mark.parametrize("output", [(), ("--json",)])
def test_no_timing_makes_two_runs_of_one_command_print_the_same(capsys, output):
    """The clock is the only thing that differs between two runs; --no-timing leaves it out."""
    argv = [str(ROOT / "specs" / "o16_maybe_pinned_false_positive.py"), "--quiet", "--no-timing", *output]
    first, second = cli(capsys, *argv), cli(capsys, *argv)
    assert first == second
    if output:
        results = json.loads(first[1])["results"]
        assert all(r["seconds"] is None and "solver seconds" not in r["model_stats"] for r in results)
    else:
        assert "seconds" not in first[1] and "states/s" not in first[1]


@pytest.mark.parametrize("params, needle", [
    (("P=128",), "processes (P) must be at most 64 (the largest this world supports), not 128"),
    (("P=100000",), "processes (P) must be at most 64"),
    (("P=100000000000000000000",), "processes (P) must be at most 64"),
    (("M=200",), "addresses (M) must be at most 64"),
    (("S=100000",), "speculative references (S) must be at most 4096"),
])
def test_huge_bounds_are_refused_when_the_spec_loads(capsys, params, needle):
    """They crashed (rows wider than the fingerprint keys, MemoryError) or hung past --time-limit."""
    code, out, err = cli(capsys, REFERENCE, "--quiet", "--time-limit", "5",
                         *[arg for p in params for arg in ("--param", p)])
    assert code == 2 and out == "" and err.count("\n") == 1 and needle in err, err


def test_the_largest_bounds_run_over_every_store(capsys):
    """Rows of more than 512 columns (W(2,1,1000): 2013, crashed) over the packed stores, W(64,64,0) and
    W(2,1,4096) over the dict."""
    for params, store in ((("S=1000",), "compact"), (("S=1000",), "fingerprint"), (("P=64", "M=64"), "dict"),
                          (("S=4096",), "dict")):
        code, out, err = cli(capsys, REFERENCE, "--quiet", "--policy", "page_count", "--max-states", "500",
                             "--store", store, *[arg for p in params for arg in ("--param", p)])
        assert code == 3 and err == "" and "state limit of 500 reached" in out, (params, store, err)


def test_a_memory_limit_ends_the_run_as_incomplete_with_what_it_explored(capsys):
    code, out, err = cli(capsys, REFERENCE, "--quiet", "--policy", "page_count", "--param", "M=2",
                         "--max-memory", "2M")
    assert code == 3 and err == ""
    assert "incomplete: memory limit of 2 MiB reached" in out and "resident" in out


@pytest.mark.parametrize("value", ["0", "-5G", "nan", "inf", "12 parsecs", "0%", "150%", "100K"])
def test_a_bad_memory_limit_is_one_line(capsys, value):
    code, out, err = cli(capsys, REFERENCE, "--quiet", "--max-memory", value)
    assert code == 2 and err.count("\n") == 1 and "--max-memory" in err, err


@pytest.mark.slow
def test_an_allocator_that_refuses_ends_the_run_with_the_figures_so_far(tmp_path):
    """Under ``ulimit -v`` the allocator fails before the default limit: the report still comes, exit 3."""
    import resource

    def limit_address_space():
        resource.setrlimit(resource.RLIMIT_AS, (700 * 2 ** 20, 700 * 2 ** 20))

    proc = subprocess.run([sys.executable, "-m", "modelcheck", REFERENCE, "--quiet", "--policy", "page_count",
                           "--param", "P=3", "--param", "M=2", "--no-stop", "--max-memory", "100%"],
                          capture_output=True, text=True, cwd=ROOT, preexec_fn=limit_address_space, timeout=1800)
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode == 3, (proc.stdout, proc.stderr)
    assert "incomplete: out of memory: the allocator refused" in proc.stdout


def test_the_matrix_stops_a_cell_at_its_memory_limit_too(tmp_path, capsys):
    code = main(["matrix", REFERENCE, "--out-dir", str(tmp_path), "--quiet", "--max-memory", "2M"])
    assert code == 3
    cells = json.loads((tmp_path / "matrix.json").read_text())["cells"]
    assert cells and all(c["verdict"] == "incomplete" for c in cells if c["policy"] == "page_count")
