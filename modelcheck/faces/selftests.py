"""The selftests' table: every case of the kernel's COW selftests, the specs that mirror it, and their verdicts.

For each case of the catalogue (``modelcheck.selftests``): its memory kind,
what the selftest expects of a correct kernel, the specs whose ``mirrors`` name
it and their verdicts under one policy (by default the newest merged one), and
whether they agree: a mirror agrees where it holds on a case expected to pass
and is violated on a case expected to fail (``xfail``). An uncovered case says
why. Totals per file and per memory kind follow. The files carry no date or
timing, so that the same specs and catalogue give the same bytes.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

from modelcheck.selftests import Case, Catalogue

SELFTESTS_SCHEMA = "modelcheck.selftests/1"
AGREES, DISAGREES, UNKNOWN = "yes", "NO", "?"


@dataclass(frozen=True)
class MirrorRun:
    """One spec that mirrors a case, and its verdict under the table's policy (holds, violated, incomplete)."""

    spec: str   # the spec's id
    path: str
    verdict: str


def agreement(case: Case, runs: Sequence[MirrorRun]) -> str | None:
    """Whether the mirrors' verdicts agree with the selftest's expectation: None for an uncovered case,
    DISAGREES if any mirror contradicts it, UNKNOWN if some run ended incomplete, else AGREES."""
    if not runs:
        return None
    wanted = "holds" if case.expect == "pass" else "violated"
    if any(run.verdict not in (wanted, "incomplete") for run in runs):
        return DISAGREES
    if any(run.verdict == "incomplete" for run in runs):
        return UNKNOWN
    return AGREES


def rows(catalogue: Catalogue, mirrors: Mapping[tuple[str, str, str], Sequence[MirrorRun]]) -> list[dict[str, Any]]:
    """One record per catalogue case, in the catalogue's order."""
    out = []
    for case in catalogue.cases:
        runs = list(mirrors.get(case.key, ()))
        out.append({"file": case.file, "function": case.function, "kind": case.kind, "expect": case.expect,
                    "mirrored_by": [{"spec": r.spec, "path": r.path, "verdict": r.verdict} for r in runs],
                    "agrees": agreement(case, runs),
                    "uncovered_because": [] if runs else list(catalogue.uncovered_reasons(case))})
    return out


def totals(records: Sequence[Mapping[str, Any]], by: str) -> dict[str, dict[str, int]]:
    """Per value of ``by`` (file or kind): cases, covered, agreeing, disagreeing, unknown."""
    out: dict[str, dict[str, int]] = {}
    for r in records:
        t = out.setdefault(r[by], {"cases": 0, "covered": 0, "agree": 0, "disagree": 0, "unknown": 0})
        t["cases"] += 1
        if r["mirrored_by"]:
            t["covered"] += 1
            t[{AGREES: "agree", DISAGREES: "disagree", UNKNOWN: "unknown"}[r["agrees"]]] += 1
    return out


def reasons(records: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """How many uncovered cases give each reason (a case may give several)."""
    return dict(Counter(reason for r in records for reason in r["uncovered_because"]).most_common())


def to_json(catalogue: Catalogue, records: Sequence[Mapping[str, Any]], policy: str, stands_for: str,
            newest: bool = True) -> dict[str, Any]:
    return {
        "schema": SELFTESTS_SCHEMA,
        "tree": {"repository": catalogue.repository, "release": catalogue.release, "commit": catalogue.commit},
        "files": [{"file": f.file, "path": f.path, "blob": f.blob} for f in catalogue.files],
        "policy": policy, "policy_stands_for": stands_for, "newest_policy": newest,
        "cases": list(records),
        "totals": {"all": totals([{**r, "all": "all"} for r in records], "all")["all"],
                   "per_file": totals(records, "file"), "per_kind": totals(records, "kind")},
        "uncovered_because": reasons(records),
    }


def _verdicts(record: Mapping[str, Any]) -> str:
    return "<br>".join(f"{m['spec']} {m['verdict']}" for m in record["mirrored_by"]) or "-"


def _count_table(head: str, table: Mapping[str, Mapping[str, int]], labels: Mapping[str, str]) -> list[str]:
    lines = [f"| {head} | cases | covered | agree | disagree | incomplete |", "|---|---:|---:|---:|---:|---:|"]
    for name, t in table.items():
        lines.append(f"| {labels.get(name, name)} | {t['cases']} | {t['covered']} | {t['agree']} | {t['disagree']} "
                     f"| {t['unknown']} |")
    return lines


def to_markdown(catalogue: Catalogue, records: Sequence[Mapping[str, Any]], policy: str, stands_for: str,
                command: str, newest: bool = True) -> str:
    document = to_json(catalogue, records, policy, stands_for, newest)
    which = "the newest merged policy, which" if newest else "a policy chosen with --policy, which"
    kinds = {k.name: k.label for k in catalogue.kinds}
    everything = document["totals"]["all"]
    lines = [
        "# The kernel's COW selftests, case by case",
        "",
        f"Generated by `{command}` (modelcheck's selftest catalogue); do not edit by hand.",
        f"The cases are those of `{catalogue.files[0].path}` and `{catalogue.files[1].path}` in the "
        f"{catalogue.release} tree ({catalogue.repository} at {catalogue.commit}), as each file runs them: a test "
        "function on a memory kind (a kind stands for every size the file runs it at; see docs/selftests.md). "
        "`expects`: what the file reports of a correct kernel (`xfail`: a failure it reports as expected). "
        f"Verdicts are those of the mirroring specs under `{policy}` ({which} stands for {stands_for}). `agrees`: the mirrors hold where the case expects a pass and are violated where it "
        "expects a failure.",
        "",
        f"**{everything['covered']} of {everything['cases']} cases covered**; {everything['agree']} agree, "
        f"{everything['disagree']} disagree, {everything['unknown']} incomplete.",
        "",
        *_count_table("file", document["totals"]["per_file"], {}),
        "",
        *_count_table("memory kind", document["totals"]["per_kind"], kinds),
        "",
        "Uncovered cases by reason (a case may give more than one):",
        "",
        *[f"- {reason}: {n}" for reason, n in document["uncovered_because"].items()],
    ]
    for f in catalogue.files:
        lines += ["", f"## {f.file}", "", "| test function | description | cases |", "|---|---|---:|"]
        for fn in f.functions:
            n = sum(1 for r in records if r["file"] == f.file and r["function"] == fn.name)
            built = " (built with liburing only)" if fn.build else ""
            lines.append(f"| `{fn.name}` | {fn.description}{built} | {n} |")
        lines += ["", "| test function | memory kind | expects | mirrored by, verdict | agrees | uncovered because |",
                  "|---|---|---|---|---|---|"]
        for r in records:
            if r["file"] == f.file:
                lines.append(f"| `{r['function']}` | {kinds[r['kind']]} | {r['expect']} | {_verdicts(r)} | "
                             f"{r['agrees'] or '-'} | {', '.join(r['uncovered_because']) or '-'} |")
    differ = [r for r in records if r["agrees"] == DISAGREES]
    lines += ["", f"Disagreements with the selftests: {len(differ) or 'none'}."]
    lines += [f"- {r['file']} {r['function']} on {kinds[r['kind']]} expects {r['expect']}: {_verdicts(r)}"
              for r in differ]
    return "\n".join(lines) + "\n"


def write(catalogue: Catalogue, records: Sequence[Mapping[str, Any]], policy: str, stands_for: str,
          out_dir: Path, command: str, newest: bool = True) -> tuple[Path, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    md, js = out_dir / "selftests.md", out_dir / "selftests.json"
    md.write_text(to_markdown(catalogue, records, policy, stands_for, command, newest))
    js.write_text(json.dumps(to_json(catalogue, records, policy, stands_for, newest), indent=2) + "\n")
    return md, js
