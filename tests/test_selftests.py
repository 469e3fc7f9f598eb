"""The selftest catalogue, the specs' mirrors of its cases, and the generated table (results/selftests.md)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from modelcheck.faces.cli import main
from modelcheck.faces.selftests import AGREES, DISAGREES, MirrorRun, agreement
from modelcheck.selftests import CATALOGUE, MODEL_LACKS, NOT_YET_WRITTEN, Case, _load, catalogue, planned_tests
from modelcheck.spec import Spec, load_spec

ROOT = Path(__file__).resolve().parents[1]
SPECS = sorted((ROOT / "specs").glob("*.py"))


def test_the_catalogue_loads_with_every_case_once_on_known_kinds():
    cat = catalogue()
    keys = [case.key for case in cat.cases]
    assert len(keys) == len(set(keys)) == 213
    assert {f.file: len(f.cases) for f in cat.files} == {"cow.c": 173, "gup_longterm.c": 40}
    kinds = {k.name for k in cat.kinds}
    assert {case.kind for case in cat.cases} == kinds  # every kind known, and every known kind used
    functions = {(f.file, fn.name) for f in cat.files for fn in f.functions}
    assert {(c.file, c.function) for c in cat.cases} == functions
    assert all(need in MODEL_LACKS or need in ("gup_test", "swap") for k in cat.kinds for need in k.needs)


def test_the_expected_failures_are_the_vmsplice_tests_on_hugetlb():
    xfail = {(c.function, c.kind) for c in catalogue().cases if c.expect == "xfail"}
    assert xfail == {(f, "hugetlb") for f in ("test_vmsplice_in_child", "test_vmsplice_in_child_mprotect",
                                              "test_vmsplice_before_fork", "test_vmsplice_after_fork")}


def _plan_as_the_files_count_it(thp: int, hugetlb: int, pmd: bool, liburing: bool) -> int:
    """The test plans the two files declare, from their per-test-case counts (anon, anon THP, non-anon; and
    gup_longterm's), with 14 anon and 10 gup_longterm functions, 2 and 2 of them built with liburing only."""
    anon, longterm = (14, 10) if liburing else (12, 8)
    per_anon = 2 + hugetlb + 6 * thp + (2 if pmd else 0)
    return (anon * per_anon + 4 * (1 if pmd else 0) + 3 * (3 + hugetlb + (1 if pmd else 0))
            + longterm * (3 + hugetlb))


@pytest.mark.parametrize("thp, hugetlb, pmd, liburing", [
    (1, 1, True, True), (1, 1, True, False), (9, 2, True, True), (0, 0, False, True), (4, 1, True, False)])
def test_the_catalogue_gives_the_plan_the_files_declare(thp, hugetlb, pmd, liburing):
    assert planned_tests(thp, hugetlb, pmd_thp=pmd, liburing=liburing) \
        == _plan_as_the_files_count_it(thp, hugetlb, pmd, liburing)


def test_213_is_the_plan_with_one_thp_and_one_hugetlb_size():
    assert planned_tests(1, 1) == 213 == len(catalogue().cases)


@pytest.mark.parametrize("damage, says", [
    (lambda d: d["files"][0]["cases"].append(dict(d["files"][0]["cases"][0])), "listed twice"),
    (lambda d: d["files"][1]["cases"][0].update(kind="ksm-page"), "unknown kind"),
    (lambda d: d["files"][0]["cases"][0].update(function="test_nothing"), "unknown function"),
    (lambda d: d["files"][0]["cases"][0].update(expect="skip"), "expects"),
])
def test_an_inconsistent_catalogue_is_refused(damage, says):
    data = copy.deepcopy(json.loads(CATALOGUE.read_text()))
    damage(data)
    with pytest.raises(ValueError, match=says):
        _load(data)


@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.stem)
def test_every_spec_mirrors_only_catalogue_cases(path):
    spec = load_spec(path)  # an unknown mirror would refuse to load
    for mirror in spec.mirrors:
        assert catalogue().case(*mirror) is not None


def test_the_c_specs_of_cow_c_say_what_they_mirror():
    mirrored = {load_spec(p).id for p in SPECS if load_spec(p).mirrors}
    assert {"C1", "C2", "C3", "C3b", "C4", "C5", "C6", "C7", "C7-nosd", "C8", "C9", "C9b", "C11", "C12a",
            "C12b", "C12b-C11"} <= mirrored


def _spec_file(tmp_path: Path, mirrors: str, world: str, invariants: str) -> Path:
    path = tmp_path / "mirror.py"
    path.write_text("from modelcheck import Spec\nfrom modelcheck.cow import CowWorld\n\n"
                    f"SPEC = Spec(id='M1', title='a mirror', world=lambda: {world}, invariants={invariants},\n"
                    f"            mirrors={mirrors})\n")
    return path


@pytest.mark.parametrize("mirrors, says", [
    ("[('cow.c', 'test_nothing', 'base-page')]", "cow.c has no test function 'test_nothing'"),
    ("[('cow.c', 'test_cow_in_parent', 'ksm-page')]", "runs test_cow_in_parent on no memory kind 'ksm-page'"),
    ("[('mremap.c', 'test_cow_in_parent', 'base-page')]", "'mremap.c' is not a selftest file"),
    ("[('cow.c', 'test_cow_in_parent')]", "is not a (file, test function, memory kind) triple"),
    ("'cow.c'", "mirrors must be a list"),
])
def test_a_mirror_of_no_catalogue_case_is_a_one_line_spec_error(tmp_path, capsys, mirrors, says):
    path = _spec_file(tmp_path, mirrors, "CowWorld.scripted({'parent': ['store a0']})", "['no_lost_write']")
    assert main([str(path), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("modelcheck: ") and says in err and len(err.strip().splitlines()) == 1


def test_a_case_mirrored_twice_by_one_spec_is_refused():
    mirror = ("cow.c", "test_cow_in_parent", "base-page")
    with pytest.raises(ValueError, match="twice"):
        Spec(id="M", title="t", world=lambda: None, invariants=["x"], mirrors=[mirror, mirror])


def test_agreement_follows_the_selftests_expectation():
    passing = Case("cow.c", "test_cow_in_parent", "base-page", "pass")
    failing = Case("cow.c", "test_vmsplice_in_child", "hugetlb", "xfail")
    held, violated = MirrorRun("A", "a.py", "holds"), MirrorRun("B", "b.py", "violated")
    assert agreement(passing, []) is None
    assert agreement(passing, [held]) == AGREES and agreement(passing, [violated]) == DISAGREES
    assert agreement(failing, [violated]) == AGREES and agreement(failing, [held]) == DISAGREES
    assert agreement(passing, [held, violated]) == DISAGREES
    assert agreement(passing, [held, MirrorRun("C", "c.py", "incomplete")]) == "?"


def test_a_mirror_that_violates_a_passing_case_shows_a_disagreement(tmp_path, capsys):
    """O16's scenario is violated under the newest policy; a spec that claims it mirrors a case cow.c expects to
    pass makes the table say so, and the command exit 1."""
    path = _spec_file(tmp_path, "[('cow.c', 'test_cow_in_parent', 'base-page')]",
                      "CowWorld.scripted({'parent': ['pin_rw a1 -> dev', 'clear_refs', 'fork', 'put dev']})"
                      ".with_unknown_holders(0)", "['pin_checks_exact']")
    out = tmp_path / "out"
    assert main(["selftests", str(path), "--out-dir", str(out)]) == 1
    assert "1 disagreement(s) under mainline_7_3" in capsys.readouterr().out
    document = json.loads((out / "selftests.json").read_text())
    row = next(r for r in document["cases"] if r["function"] == "test_cow_in_parent" and r["kind"] == "base-page")
    assert row["agrees"] == DISAGREES and row["mirrored_by"][0]["verdict"] == "violated"
    assert document["totals"]["all"]["disagree"] == 1
    assert "| `test_cow_in_parent` | base page | pass | M1 violated | NO |" in (out / "selftests.md").read_text()


def test_the_committed_table_is_what_the_command_writes(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(ROOT)
    assert main(["selftests", "--out-dir", str(tmp_path)]) == 0
    for name in ("selftests.md", "selftests.json"):
        assert (tmp_path / name).read_text() == (ROOT / "results" / name).read_text(), \
            f"results/{name} is stale: run python -m modelcheck selftests"


def test_the_counts_add_up():
    document = json.loads((ROOT / "results" / "selftests.json").read_text())
    cases, totals = document["cases"], document["totals"]
    mirrored = {tuple(m) for p in SPECS for m in load_spec(p).mirrors}
    assert totals["all"]["covered"] == len(mirrored) == sum(1 for r in cases if r["mirrored_by"])
    for by in ("per_file", "per_kind"):
        assert sum(t["cases"] for t in totals[by].values()) == len(cases) == 213
        assert sum(t["covered"] for t in totals[by].values()) == totals["all"]["covered"]
    uncovered = [r for r in cases if not r["mirrored_by"]]
    assert all(r["uncovered_because"] for r in uncovered)
    assert all(r["uncovered_because"] == [] and r["agrees"] for r in cases if r["mirrored_by"])
    # a case the model has every feature for is one that is simply not written yet: there are none left
    assert [(r["function"], r["kind"]) for r in uncovered if NOT_YET_WRITTEN in r["uncovered_because"]] == []


def test_an_older_policy_disagrees_where_its_era_broke_a_selftest(tmp_path, capsys):
    """Under page_count (v5.9) C7 and C11 are violated: cow.c's io_uring and R/O-pin cases, expected to pass on a
    modern kernel, show the disagreements that era had; the table says which policy it used."""
    specs = [str(ROOT / "specs" / name) for name in ("c7_iouring_mprotect.py", "c11_ro_pin_exclusive.py")]
    assert main(["selftests", *specs, "--policy", "page_count", "--out-dir", str(tmp_path)]) == 1
    document = json.loads((tmp_path / "selftests.json").read_text())
    assert document["policy"] == "page_count" and document["newest_policy"] is False
    assert {(r["function"], r["kind"]) for r in document["cases"] if r["agrees"] == DISAGREES} \
        == {("test_iouring_ro", "base-page"), ("test_ro_pin_on_ro_exclusive", "base-page")}
    assert "a policy chosen with --policy" in (tmp_path / "selftests.md").read_text()


def test_an_unknown_policy_is_a_usage_error(capsys):
    assert main(["selftests", "--policy", "nope"]) == 2
    assert capsys.readouterr().err.startswith("modelcheck: unknown policy 'nope'")
