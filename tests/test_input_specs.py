"""Bad spec files: each mistake is one line naming the file, exit status 2, never a traceback.

First the defects found by hand (each failed before its fix), then a Hypothesis suite that builds spec
files from pieces, each with at least one mistake in it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from inputs import assert_usage_error, run

HEADER = "from modelcheck import Spec\nfrom modelcheck.cow import CowWorld\n"
GOOD = "id='x', title='t', world=lambda: CowWorld(2, 1, 0), invariants=['no_leak_to_child']"


def spec_file(tmp_path: Path, body: str) -> str:
    path = tmp_path / "spec.py"
    path.write_text(HEADER + body)
    return str(path)


@pytest.mark.parametrize("body, needle", [
    # the world function may fail in any way, or return what is not a world
    ("SPEC = Spec(id='x', title='t', world=lambda: {}['k'], invariants=['no_leak_to_child'])\n",
     "the spec's world function raised KeyError: 'k' (line 3)"),
    ("def w():\n    raise RuntimeError('no world today')\n"
     "SPEC = Spec(id='x', title='t', world=w, invariants=['no_leak_to_child'])\n",
     "the spec's world function raised RuntimeError: no world today (line 4)"),
    ("SPEC = Spec(id='x', title='t', world=lambda: 3, invariants=['no_leak_to_child'])\n",
     "the spec's world function returned a int, not a world (it lacks policy_names, invariant_names"),
    ("class Half:\n    def policy_names(self): return ['mapcount']\n"
     "SPEC = Spec(id='x', title='t', world=Half, invariants=['no_leak_to_child'])\n",
     "returned a Half, not a world (it lacks invariant_names, describe, model, variants, variant)"),
    # a spec that ends the program
    ("import sys\nsys.exit(0)\n", "the spec called sys.exit(0) (line 4)"),
    ("raise SystemExit('bye')\n", "the spec called sys.exit('bye') (line 3)"),
    # a string where a list of names is expected would be read one letter at a time
    (f"SPEC = Spec(id='x', title='t', world=lambda: CowWorld(2, 1, 0), invariants='no_leak_to_child')\n",
     "invariants must be a list of invariant names, not a str ('no_leak_to_child': write ['no_leak_to_child'])"),
    (f"SPEC = Spec({GOOD}, policies='mapcount')\n", "policies must be a list of policy names, not a str"),
    (f"SPEC = Spec({GOOD}, covers='end:parent')\n", "covers must be a list of coverage item names, not a str"),
    (f"SPEC = Spec({GOOD}, covers=['end:parent', 3])\n", "covers must be a list of coverage item names; 3 is a int"),
    # wrong types in the other fields
    ("SPEC = Spec(id=3, title='t', world=lambda: CowWorld(2, 1, 0), invariants=['no_leak_to_child'])\n",
     "a spec needs an id (a short name such as 'C3'), not 3"),
    ("SPEC = Spec(id='x', title=None, world=lambda: CowWorld(2, 1, 0), invariants=['no_leak_to_child'])\n",
     "title must be a string, not a NoneType"),
    (f"SPEC = Spec({GOOD}, params=[('P', 2)])\n", "params must be a mapping of parameter names to values, not a list"),
    (f"SPEC = Spec({GOOD}, params={{'P': 2.5}})\n", "params: P must default to a whole number, true/false or a string"),
    (f"SPEC = Spec({GOOD}, params={{1: 2}})\n", "params: 1 is not a parameter name"),
    (f"SPEC = Spec({GOOD}, expect=['mapcount'])\n", "expect must be a mapping of policy names to verdicts, not a list"),
    (f"SPEC = Spec({GOOD}, notes=['n'])\n", "notes must be a string, not a list"),
])
def test_spec_mistakes_are_one_line(tmp_path, body, needle):
    path = spec_file(tmp_path, body)
    assert_usage_error(run(path, "--quiet"), f"modelcheck: {path}: ", needle)


def test_a_scenario_error_without_parameters_does_not_speak_of_bad_parameters(tmp_path):
    path = spec_file(tmp_path, "SPEC = Spec(id='x', title='t', invariants=['pin_coherent'],\n"
                               "            world=lambda: CowWorld.scripted({'parent': ['put b', 'pin_rw a0 -> b']}))\n")
    outcome = run(path, "--quiet")
    assert_usage_error(outcome, f"modelcheck: {path}: scenario: thread parent: 'put b' (operation 1)")
    assert "bad parameters" not in outcome.err


def test_bad_parameters_still_name_them(tmp_path):
    path = spec_file(tmp_path, "SPEC = Spec(id='x', title='t', invariants=['no_leak_to_child'], params={'P': 0},\n"
                               "            world=lambda P: CowWorld(P, 1, 0))\n")
    assert_usage_error(run(path, "--quiet"), f"{path}: bad parameters P=0: processes (P) must be at least 1")


@pytest.mark.parametrize("world, needle", [
    ("CowWorld.scripted({'parent': [3]})", "scenario: thread parent, operation 1: 3 is not an operation"),
    ("CowWorld.scripted(['store a0'])", "scenario: the programs must map thread names to lists of operations"),
    ("CowWorld.scripted({'parent': 3})", "scenario: thread parent: the program must be a list of operations, not a int"),
    ("CowWorld.scripted({3: ['store a0']})", "scenario: thread 3: threads are named parent"),
    ("CowWorld.scripted({'parent': ['store a0']}, events='spec')",
     "scenario: events must be a list of kernel event names, not a str (write ['spec'])"),
])
def test_malformed_scenarios_are_refused_in_their_own_words(tmp_path, world, needle):
    path = spec_file(tmp_path, f"SPEC = Spec(id='x', title='t', invariants=['no_lost_write'], world=lambda: {world})\n")
    assert_usage_error(run(path, "--quiet"), f"modelcheck: {path}: {needle}")
