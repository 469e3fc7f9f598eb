"""The three layers do not know each other's insides."""

import ast
import re
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "modelcheck"


def _imports(folder: Path) -> set[str]:
    found = set()
    for path in folder.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                if node.level:  # relative import: resolve against the package layout
                    base = path.relative_to(PACKAGE.parent).with_suffix("").parts[:-node.level]
                    found.add(".".join(base + ((node.module,) if node.module else ())))
                else:
                    found.add(node.module or "")
    return found


def test_engine_imports_nothing_of_the_world_or_the_faces():
    bad = {name for name in _imports(PACKAGE / "engine")
           if name.startswith(("modelcheck.cow", "modelcheck.faces", "modelcheck.spec", "modelcheck.runner"))}
    assert not bad, f"the engine imports {sorted(bad)}"


def test_world_does_not_import_the_search_or_the_faces():
    bad = {name for name in _imports(PACKAGE / "cow")
           if name.startswith(("modelcheck.engine.search", "modelcheck.faces", "modelcheck.runner"))}
    assert not bad, f"the COW world imports {sorted(bad)}"


def test_importing_the_engine_loads_no_world_module():
    code = ("import sys, modelcheck.engine; "
            "print(sorted(m for m in sys.modules if m.startswith(('modelcheck.cow', 'modelcheck.faces'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_engine_has_no_word_of_pages_or_forks():
    words = re.compile(r"\b(pages?|forks?|ptes?|mapcount|refcount|vmsplice|policy|policies)\b", re.I)
    for path in (PACKAGE / "engine").rglob("*.py"):
        # the one allowed use: the operating system's process start method, not the world's fork()
        hit = words.search(path.read_text().replace('get_context("fork")', ""))
        assert hit is None, f"{path.name} mentions {hit.group(0)!r}"


def test_a_scripted_run_does_not_load_numpy():
    """numpy serves the packed stores and the batch form only: a scenario's run starts without it."""
    spec = PACKAGE.parent / "specs" / "c1_basic_cow.py"
    code = ("import sys, contextlib, io; from modelcheck.faces.cli import main\n"
            f"with contextlib.redirect_stdout(io.StringIO()): main([{str(spec)!r}, '--quiet'])\n"
            "print('numpy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
