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
    assert set(step) == {"index", "actor", "label", "changes", "state"}
    assert step["actor"] == "child1" and step["label"] == "child1 pipe_read()"
    assert mc["violation"]["property"] == "no_leak_to_child"
    assert pc["verdict"] == "holds" and pc["counterexample"] is None


def test_dfs_reaches_the_same_verdicts(capsys):
    code, out, _ = cli(capsys, VMSPLICE, "--dfs", "--json", "--quiet")
    assert code == 0
    verdicts = {r["policy"]: r["verdict"] for r in json.loads(out)["results"]}
    assert verdicts["mapcount"] == "violated"
    assert {v for p, v in verdicts.items() if p != "mapcount"} == {"holds"}


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
    assert code == 0 and "wrote 1 trace(s)" in err
    doc = json.loads(traces.read_text())
    assert doc["schema"] == "modelcheck.trace/3"
    trace = doc["traces"][0]
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
