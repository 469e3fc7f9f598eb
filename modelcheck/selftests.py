"""The kernel's own COW selftests as a catalogue: every case (test function x memory kind) as its file runs it.

The catalogue (``data/selftests.json``) holds facts read from one kernel tree's
``tools/testing/selftests/mm/cow.c`` and ``gup_longterm.c``: each test function
with its description and what it checks, the memory kinds it runs on, and what
the file expects of a correct kernel there (``pass``, or ``xfail`` where it
reports a failure as an expected failure). It holds no code or text of the tests
beyond the descriptions they print. A spec names the cases it mirrors
(``Spec.mirrors``); ``python -m modelcheck selftests`` counts which are covered.

A kind stands for every size the file runs it at (``sizes``: one page, the PMD
size, every THP size the machine offers, every hugetlb size), so the catalogue's
count is the test plan of a machine with one THP size and one hugetlb size;
``planned_tests`` gives the plan of any other.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Sequence

CATALOGUE = Path(__file__).parent / "data" / "selftests.json"
EXPECTATIONS = ("pass", "xfail")
SIZES = ("page", "pmd", "thp", "hugetlb")
NOT_YET_WRITTEN = "not yet written"
# what a case needs that the model does not have: the reason it is uncovered (a catalogue kind's or function's
# ``needs``); the others only say what the selftest needs to run, which the model has (MODEL_HAS)
MODEL_LACKS = ("large folios", "hugetlb", "THP collapse")
MODEL_HAS = ("gup_test", "GUP-fast", "swap", "zero page", "file or shmem mapping")


@dataclass(frozen=True)
class Kind:
    name: str
    label: str
    sizes: str              # one of SIZES: the sizes the file runs this kind at
    needs: tuple[str, ...]  # features of the memory beyond an anonymous base page
    memory: str


@dataclass(frozen=True)
class Function:
    file: str
    name: str
    description: str
    table: str              # the file's table of test cases it is listed in
    checks: str             # what it checks, in a sentence
    needs: tuple[str, ...]  # beyond the memory kind: gup_test, GUP-fast, THP collapse
    build: str | None       # a library the file is built with for it to exist at all (liburing)


@dataclass(frozen=True)
class Case:
    file: str
    function: str
    kind: str
    expect: str             # one of EXPECTATIONS

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.file, self.function, self.kind)


@dataclass(frozen=True)
class SelftestFile:
    file: str
    path: str
    blob: str
    xfail_how: str
    functions: tuple[Function, ...]
    cases: tuple[Case, ...]


@dataclass(frozen=True)
class Catalogue:
    repository: str
    release: str
    commit: str
    kinds: tuple[Kind, ...]
    files: tuple[SelftestFile, ...]

    @property
    def cases(self) -> tuple[Case, ...]:
        return tuple(case for f in self.files for case in f.cases)

    def kind(self, name: str) -> Kind:
        return next(k for k in self.kinds if k.name == name)

    def function(self, file: str, name: str) -> Function:
        return next(fn for f in self.files if f.file == file for fn in f.functions if fn.name == name)

    def case(self, file: str, function: str, kind: str) -> Case | None:
        return next((c for c in self.cases if c.key == (file, function, kind)), None)

    def uncovered_reasons(self, case: Case) -> tuple[str, ...]:
        """Why no spec can mirror ``case`` yet: what it needs that the model lacks, or that none is written."""
        needs = (*self.kind(case.kind).needs, *self.function(case.file, case.function).needs)
        lacking = tuple(dict.fromkeys(n for n in needs if n in MODEL_LACKS))
        return lacking or (NOT_YET_WRITTEN,)


def _load(data: dict[str, Any]) -> Catalogue:
    """The catalogue from its JSON form, refused (ValueError) where it is not consistent."""
    kinds = tuple(Kind(name, k["label"], k["sizes"], tuple(k["needs"]), k["memory"]) for name, k in data["kinds"].items())
    known_kinds = {k.name for k in kinds}
    for k in kinds:
        if k.sizes not in SIZES:
            raise ValueError(f"kind {k.name}: sizes {k.sizes!r} is not one of {', '.join(SIZES)}")
    files = []
    for f in data["files"]:
        functions = tuple(Function(f["file"], fn["name"], fn["description"], fn["table"], fn["checks"],
                                   tuple(fn["needs"]), fn["build"]) for fn in f["functions"])
        names = [fn.name for fn in functions]
        if len(set(names)) != len(names):
            raise ValueError(f"{f['file']}: a test function is listed twice")
        cases = tuple(Case(f["file"], c["function"], c["kind"], c["expect"]) for c in f["cases"])
        for case in cases:
            if case.function not in names:
                raise ValueError(f"{f['file']}: case of unknown function {case.function}")
            if case.kind not in known_kinds:
                raise ValueError(f"{f['file']}: case {case.function} on unknown kind {case.kind}")
            if case.expect not in EXPECTATIONS:
                raise ValueError(f"{f['file']}: case {case.function} {case.kind} expects {case.expect!r}")
        if len({c.key for c in cases}) != len(cases):
            raise ValueError(f"{f['file']}: a case is listed twice")
        files.append(SelftestFile(f["file"], f["path"], f["blob"], f["xfail_how"], functions, cases))
    tree = data["tree"]
    return Catalogue(tree["repository"], tree["release"], tree["commit"], kinds, tuple(files))


@lru_cache(maxsize=1)
def catalogue() -> Catalogue:
    """The package's catalogue (read once)."""
    return _load(json.loads(CATALOGUE.read_text()))


def unknown_mirror(mirror: Sequence[str]) -> str | None:
    """Why ``mirror`` (file, test function, memory kind) names no catalogue case, in a phrase; None if it does."""
    cat = catalogue()
    if isinstance(mirror, (str, bytes)) or not isinstance(mirror, (list, tuple)) or len(mirror) != 3 \
            or not all(isinstance(part, str) for part in mirror):
        return f"{mirror!r} is not a (file, test function, memory kind) triple"
    file, function, kind = mirror
    files = [f.file for f in cat.files]
    if file not in files:
        return f"{file!r} is not a selftest file of the catalogue (known: {', '.join(files)})"
    functions = [fn.name for f in cat.files if f.file == file for fn in f.functions]
    if function not in functions:
        return f"{file} has no test function {function!r}"
    if cat.case(file, function, kind) is None:
        runs_on = [c.kind for c in cat.cases if c.file == file and c.function == function]
        return f"{file} runs {function} on no memory kind {kind!r} (it runs on: {', '.join(runs_on)})"
    return None


def planned_tests(thp_sizes: int, hugetlb_sizes: int, pmd_thp: bool = True, liburing: bool = True) -> int:
    """The number of tests the two files plan on a machine with ``thp_sizes`` THP sizes (the PMD size among
    them when ``pmd_thp``) and ``hugetlb_sizes`` hugetlb sizes: each case once per size its kind runs at
    (a PMD-size kind only with PMD THP), the cases of functions built only with liburing only with it."""
    cat = catalogue()
    per_size = {"page": 1, "pmd": 1 if pmd_thp else 0, "thp": thp_sizes, "hugetlb": hugetlb_sizes}
    total = 0
    for case in cat.cases:
        if cat.function(case.file, case.function).build == "liburing" and not liburing:
            continue
        total += per_size[cat.kind(case.kind).sizes]
    return total
