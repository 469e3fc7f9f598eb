"""Bad spec files: each mistake is one line naming the file, exit status 2, never a traceback.

First the defects found by hand (each failed before its fix), then a Hypothesis suite that builds spec
files from pieces, each with at least one mistake in it.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import strategies as st

from inputs import PROFILES, assert_usage_error, run, run_suite

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
    ("raise ValueError('spread' + chr(10) + 'over two lines')\n",
     "the spec raised ValueError: spread\\nover two lines (line 3)"),  # shown escaped: still one line
    (f"SPEC = Spec({GOOD}, policies=[])\n", "policies, when given, names at least one policy (omit it to check them"),
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


# -- the Hypothesis suite: spec files built from pieces, each with at least one mistake ---------------------------

OMIT = None  # a field left out of the Spec(...) call
OPS = ["fork", "store a0", "load a0", "munmap a0", "pin_rw a0 -> b", "pin_ro a0 -> c", "put b", "put c",
       "dma_read b", "dma_write b", "mprotect_ro a0", "clear_refs", "store a1", "exit"]
# every field's right values (none of which makes a mistake with another) and its wrong ones
RIGHT = {
    "id": ["'x'", "'C99'"],
    "title": ["'t'", "'a title'"],
    "world": ["lambda: CowWorld(2, 1, 0)", "lambda: CowWorld(processes=2, addresses=1)",
              "lambda: CowWorld.scripted({'parent': ['fork', 'store a0'], 'child1': ['load a0']})"],
    "invariants": ["['no_leak_to_child']", "['no_leak_to_child', 'refcount_sane']", "('no_lost_write',)"],
    "params": [OMIT, "{}"],
    "policies": [OMIT, "None", "['mapcount']", "['mapcount', 'page_count']"],
    "expect": [OMIT, "{}", "{'mapcount': 'holds'}", "{'page_count': 'violated'}"],
    "covers": [OMIT, "()", "[]"],
    "notes": [OMIT, "''", "'why'"],
}
WRONG = {
    "id": [OMIT, "''", "'  '", "3", "None", "['x']"],
    "title": [OMIT, "None", "3", "['t']"],
    "world": [OMIT, "3", "'not callable'", "lambda: 3", "lambda: None", "lambda: object()", "lambda: {}['k']",
              "lambda: 1 / 0", "lambda Q: CowWorld(Q, 1, 0)", "lambda: CowWorld(0, 1, 0)",
              "lambda: CowWorld(2, 0, 0)", "lambda: CowWorld(2, 1, -1)", "lambda: CowWorld(2, 1, 0, actions={'frob'})",
              "lambda: (_ for _ in ()).throw(RuntimeError('first line' + chr(10) + 'second line'))",
              "lambda: CowWorld.scripted({'parent': ['put b', 'pin_rw a0 -> b']})",
              "lambda: CowWorld.scripted({'parent': ['pin_rw a0 -> b', 'pin_ro a0 -> b']})",
              "lambda: CowWorld.scripted({'parent': ['frob a0']})",
              "lambda: CowWorld.scripted({'parent': ['store']})",
              "lambda: CowWorld.scripted({'child1': ['load a0']})",
              "lambda: CowWorld.scripted({'parent': ['store a0'], 'child1': ['fork']})",
              "lambda: CowWorld.scripted({'parent': ['dma_read b']})",
              "lambda: CowWorld.scripted({'parent': [3]})",
              "lambda: CowWorld.scripted({'parent': 'store a0'})",
              "lambda: CowWorld.scripted({'parent': ['store a0']}, events=['bogus'])",
              "lambda: CowWorld.scripted({'parent': ['store a0']}, events='spec')",
              "lambda: CowWorld.scripted({'parent': ['pin_ro a0 -> b', 'dma_write b']})"],
    "invariants": [OMIT, "[]", "'no_leak_to_child'", "['nope']", "[3]", "None", "('no_leak_to_child', 7)",
                   "{'no_leak_to_child': 1}"],
    "params": ["[('P', 2)]", "{'P': 2.5}", "{1: 2}", "{'P': 2}", "{'P': None}", "'P=2'", "{'not a name': 1}"],
    "policies": ["'mapcount'", "['nope']", "[None]", "3", "['mapcount', 'nope']", "[]", "''"],
    "expect": ["{'mapcount': 'broken'}", "['mapcount']", "{'nope': 'holds'}", "{3: 'holds'}", "'holds'",
               "{'mapcount': None}"],
    "covers": ["'end:parent'", "['nope']", "[3]", "['action:frob']", "['end:child9']"],
    "notes": ["3", "['n']"],
}
FIELDS = list(RIGHT)


@st.composite
def spec_calls(draw: st.DrawFn) -> str:
    """A file defining SPEC = Spec(...), fields in any order, at least one of them wrong (or a keyword Spec does
    not take); scripted worlds among the wrong ones may carry any program, the mistake is elsewhere too."""
    wrong = draw(st.sets(st.sampled_from(FIELDS + ["unknown keyword"]), min_size=1))
    arguments = []
    for name in draw(st.permutations(FIELDS)):
        value = draw(st.sampled_from(WRONG[name] if name in wrong else RIGHT[name]))
        if value is not OMIT:
            arguments.append(f"{name}={value}")
    if "unknown keyword" in wrong:
        arguments.insert(draw(st.integers(0, len(arguments))), "colour='red'")
    if draw(st.booleans()):  # a scripted world with any program at all: the wrong field is still wrong
        programs = draw(st.dictionaries(st.sampled_from(["parent", "parent.2", "child1"]),
                                        st.lists(st.sampled_from(OPS), max_size=4), min_size=1, max_size=2))
        arguments = [a for a in arguments if not a.startswith("world=")] + [f"world=lambda: CowWorld.scripted({programs!r})"]
        if "world" in wrong and len(wrong) == 1:  # that program might be right: make another mistake
            arguments.append("colour='red'")
    layout = draw(st.sampled_from([", ", ",\n    ", ",\n            "]))
    return f"SPEC = Spec({layout.join(arguments)})\n"


def _check_spec_text(text: bytes | str, name: str = "spec.py", make_dir: bool = False) -> None:
    with tempfile.TemporaryDirectory() as where:
        path = Path(where) / name
        if make_dir:
            path.mkdir()
        elif text is not None:
            data = text if isinstance(text, bytes) else (HEADER + text).encode()
            path.write_bytes(data)
        assert_usage_error(run(str(path), "--quiet"), f"modelcheck: {path}: ")


@pytest.mark.parametrize("profile_name", PROFILES)
def test_generated_spec_files_with_a_wrong_field(profile_name):
    def check(text: str) -> None:
        _check_spec_text(text)

    run_suite(profile_name, spec_calls(), check)


FILE_MISTAKES = ["prefix", "truncate", "null byte", "bad byte", "no SPEC", "SPEC not a Spec", "missing file",
                 "directory"]
PREFIXES = ["1/0\n", "raise SystemExit(0)\n", "import sys\nsys.exit(3)\n", "raise SystemExit\n",
            "raise ValueError('spread' + chr(10) + 'over two lines')\n", "def broken(:\n", "import no_such_module\n",
            "assert False, 'no'\n", "def f():\n    return f()\nf()\n", "x = [] + {}\n", "  indented = 1\n",
            "from modelcheck.cow import NoSuchThing\n"]


@st.composite
def broken_files(draw: st.DrawFn) -> tuple[str, bytes | str | None]:
    """A spec file broken as a whole: code that raises or exits before SPEC, a cut, a byte Python refuses,
    no SPEC or one of another type, no file at all, a directory."""
    mistake = draw(st.sampled_from(FILE_MISTAKES))
    body = draw(spec_calls())
    text = HEADER + body
    if mistake == "prefix":
        return mistake, HEADER + draw(st.sampled_from(PREFIXES)) + body.replace("SPEC = Spec(", "SPEC = Spec(", 1)
    if mistake == "truncate":  # a prefix of a file whose last statement is wrong is wrong: cut, or no SPEC
        return mistake, text[:draw(st.integers(0, len(text)))]
    if mistake in ("null byte", "bad byte"):
        at = draw(st.integers(0, len(text)))
        data = text.encode()
        return mistake, data[:at] + (b"\x00" if mistake == "null byte" else b"\xff") + data[at:]
    if mistake == "no SPEC":
        return mistake, text.replace("SPEC = ", draw(st.sampled_from(["SPECS = ", "spec = ", "_ = "])), 1)
    if mistake == "SPEC not a Spec":
        return mistake, HEADER + "SPEC = " + draw(st.sampled_from(["3", "None", "{}", "Spec", "'C1'", "[Spec]"])) + "\n"
    return mistake, None


@pytest.mark.parametrize("profile_name", PROFILES)
def test_generated_broken_spec_files(profile_name):
    def check(case: tuple[str, bytes | str | None]) -> None:
        mistake, content = case
        if isinstance(content, str):
            content = content.encode()
        _check_spec_text(content, make_dir=mistake == "directory")

    run_suite(profile_name, broken_files(), check)
