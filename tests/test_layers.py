"""The layers do not know each other's insides: a table of what each package may import, and scans.

Each rule is a function of a source tree, so the self-tests below can plant a
violation in a copy of the tree and see the rule catch it.
"""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "modelcheck"
STDLIB = frozenset(sys.stdlib_module_names) | {"__future__"}

# package -> the modules (and their submodules) it may import besides the standard library and itself
ALLOWED: dict[str, tuple[str, ...]] = {
    # z3 once, below the rest of the engine: the solver wrapper, bit-vector paths and unknown counts, which
    # the engine's bounded model checker and the world's symbolic references build on
    "modelcheck.engine.symbolic": ("z3",),
    # dask, distributed and the cloudpickle they bring: a search on a cluster, imported only when one is asked for
    # networkx: the whole reachable state graph of a small model (--graph)
    "modelcheck.engine": ("numpy", "numba", "z3", "tqdm", "networkx", "dask", "distributed", "cloudpickle"),
    # numba: the compiled loop of the open reference world's batch form (cow.compiled_loop)
    "modelcheck.cow": ("numpy", "numba", "z3", "modelcheck.engine.symbolic", "modelcheck.engine.model", "modelcheck.engine.footprint"),
    # the selftest catalogue: data about the kernel's selftests, read by specs (their mirrors) and the faces
    "modelcheck.selftests": (),
    "modelcheck.spec": ("modelcheck.selftests",),
    # cow.trace_scenario: a trace's steps read back as a scenario (the spec export); cow.c_program: a trace
    # as a C program for the running kernel (the c export)
    "modelcheck.runner": ("modelcheck.engine", "modelcheck.spec", "modelcheck.cow.policies", "modelcheck.cow.trace_scenario",
                          "modelcheck.cow.c_program"),
    # the nightly plan and budget: runner-side, over specs and the runner; the engine's cluster_client and
    # distributed's as_completed: the cells on a Dask cluster (--workers, --scheduler)
    "modelcheck.nightly": ("modelcheck.spec", "modelcheck.runner", "modelcheck.engine", "distributed"),
    # the reproducers' sweep: runner-side, over specs and the runner (which reaches the world's C programs)
    "modelcheck.reproduce": ("modelcheck.spec", "modelcheck.runner", "modelcheck.engine"),
    # jsonschema: the faces read trace files, which are validated against the schemas they publish
    # modelcheck.nightly: the nightly command climbs the ladders it plans, and writes what the climbs found
    # modelcheck.reproduce: the reproduce command runs the sweep it plans, and writes what the kernel said
    # networkx: the whole-graph exports read a recorded state graph (the trace's path on it)
    "modelcheck.faces": ("modelcheck", "modelcheck.engine", "modelcheck.runner", "modelcheck.spec", "jsonschema",
                         "modelcheck.selftests",
                         "modelcheck.nightly", "modelcheck.reproduce", "networkx"),
    "modelcheck": ("modelcheck.spec", "modelcheck.faces.cli"),  # the package itself and __main__
}
# faces see the engine only through its public names (``modelcheck.engine``, not its modules), except these
FACES_MAY_ALSO = ("modelcheck.engine.progress",)
WORLD_WORDS = re.compile(r"\b(pages?|forks?|ptes?|mapcount|refcount|vmsplice|policy|policies|kernel)\b", re.I)


def module_name(root: Path, path: Path) -> str:
    parts = path.relative_to(root.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(root: Path, path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative import: resolve against the package layout
                base = path.relative_to(root.parent).with_suffix("").parts[:-node.level]
                found.add(".".join(base + ((node.module,) if node.module else ())))
            else:
                found.add(node.module or "")
    return found


def _within(name: str, prefix: str) -> bool:
    """``name`` is ``prefix`` or one of its submodules (the bare package name matches itself only)."""
    return name == prefix or (prefix != "modelcheck" and name.startswith(prefix + "."))


def import_violations(root: Path) -> list[str]:
    """Every import a module makes that the table does not allow its package."""
    bad = []
    for path in sorted(root.rglob("*.py")):
        module = module_name(root, path)
        package = max((p for p in ALLOWED if _within(module, p) or p == "modelcheck"), key=len)
        allowed = ALLOWED[package] + (package,)
        for name in sorted(imports_of(root, path)):
            if name.split(".")[0] in STDLIB:
                continue
            if package == "modelcheck.faces" and _within(name, "modelcheck.engine") \
                    and name != "modelcheck.engine" and name not in FACES_MAY_ALSO:
                bad.append(f"{module} imports {name}: the faces see the engine's public names only")
            elif not any(_within(name, a) for a in allowed):
                bad.append(f"{module} imports {name}")
    return bad


def world_words_in_engine(root: Path) -> list[str]:
    bad = []
    for folder in ("engine",):  # its symbolic layer included
        for path in (root / folder).rglob("*.py"):
            # the one allowed use: the operating system's process start method, not the world's fork()
            hit = WORLD_WORDS.search(path.read_text().replace('get_context("fork")', ""))
            if hit is not None:
                bad.append(f"{path.relative_to(root)} mentions {hit.group(0)!r}")
    return bad


def probes(root: Path, folders: tuple[str, ...] = ("faces", "engine")) -> list[str]:
    """``getattr``/``hasattr`` on something: capabilities are protocols checked with isinstance, and faces read
    records, not objects' insides."""
    bad = []
    for folder in folders:
        for path in (root / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
                        and node.func.id in ("getattr", "hasattr"):
                    bad.append(f"{path.relative_to(root)}:{node.lineno} calls {node.func.id}")
    return [b for b in bad if not b.startswith(("engine/registry.py", "engine/_lazy.py"))]


def test_every_package_imports_only_what_the_table_allows():
    assert import_violations(PACKAGE) == []


def test_engine_and_symbolic_have_no_word_of_the_world():
    assert world_words_in_engine(PACKAGE) == []


def test_no_getattr_probes_in_the_faces_or_the_engine():
    assert probes(PACKAGE) == []


def test_importing_the_engine_loads_no_world_module_and_neither_numpy_nor_z3():
    code = ("import sys, modelcheck.engine; "
            "print(sorted(m for m in sys.modules if m.startswith(('modelcheck.cow', 'modelcheck.faces')) "
            "or m in ('numpy', 'z3')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_a_scripted_run_does_not_load_numpy():
    """numpy serves the packed stores and the batch form only: a scenario's run starts without it."""
    spec = PACKAGE.parent / "specs" / "c1_basic_cow.py"
    code = ("import sys, contextlib, io; from modelcheck.faces.cli import main\n"
            f"with contextlib.redirect_stdout(io.StringIO()): main([{str(spec)!r}, '--quiet'])\n"
            "print('numpy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


# -- each rule catches a violation planted in a copy of the tree ----------------------------------------------------

@pytest.fixture
def tree(tmp_path):
    copy = tmp_path / "modelcheck"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    return copy


def _plant(tree: Path, relative: str, text: str) -> None:
    path = tree / relative
    path.write_text(path.read_text() + "\n" + text + "\n")


@pytest.mark.parametrize("relative, line, caught", [
    ("engine/run.py", "from modelcheck.cow import CowWorld", "modelcheck.engine.run imports modelcheck.cow"),
    ("engine/strategies/dpor.py", "import modelcheck.faces.text",
     "modelcheck.engine.strategies.dpor imports modelcheck.faces.text"),
    ("engine/symbolic/solver.py", "from modelcheck.engine import check",
     "modelcheck.engine.symbolic.solver imports modelcheck.engine"),
    ("cow/world.py", "from modelcheck.engine.strategies import dpor",
     "modelcheck.cow.world imports modelcheck.engine.strategies"),
    ("cow/invariants.py", "from modelcheck.runner import run_spec", "modelcheck.cow.invariants imports modelcheck.runner"),
    ("faces/export.py", "from modelcheck.cow.world import CowWorld", "modelcheck.faces.export imports modelcheck.cow"),
    ("faces/text.py", "from modelcheck.engine.run import Run", "the faces see the engine's public names only"),
    ("spec.py", "import numpy", "modelcheck.spec imports numpy"),
    ("nightly.py", "from modelcheck.cow import CowWorld", "modelcheck.nightly imports modelcheck.cow"),
])
def test_the_import_table_catches_a_planted_import(tree, relative, line, caught):
    _plant(tree, relative, line)
    assert any(caught in problem for problem in import_violations(tree))


def test_the_word_scan_catches_a_planted_world_word(tree):
    _plant(tree, "engine/pipeline.py", "# a page is reused after fork")
    assert any("pipeline.py mentions" in problem for problem in world_words_in_engine(tree))


@pytest.mark.parametrize("relative", ["faces/text.py", "engine/strategies/explicit.py"])
def test_the_probe_scan_catches_a_planted_getattr(tree, relative):
    _plant(tree, relative, "PROBE = getattr(object(), 'symbolic_refs', False)")
    assert any(problem.startswith(relative) for problem in probes(tree))
