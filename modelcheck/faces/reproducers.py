"""The reproducers' sweep as a table: per program, the era model's verdict and what the kernel said."""

from __future__ import annotations

from typing import Sequence

from modelcheck.reproduce import Row


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def markdown(rows: Sequence[Row], release: str, era_policy: str, machine: str) -> str:
    """``results/reproducers.md``: what each program reported on this kernel against the model of its era."""
    judged = [r for r in rows if r.agrees is not None]
    lines = [f"# The C reproducers on Linux {release} ({machine}), against the model under `{era_policy}`", "",
             "Written by `python -m modelcheck reproduce` (docs/reproducers.md): each scripted scenario's "
             "counterexample schedule (the era's own where its policy violates the scenario, else the newest "
             "merged policy's that does) and each scenario run whole in program order, one program per "
             "property, built with gcc and run here. `unsupported` is never a verdict: the reason is given.", "",
             f"{len(rows)} programs: {len(judged)} judged, {sum(1 for r in judged if r.agrees)} agree with the "
             f"model, {sum(1 for r in judged if not r.agrees)} disagree; {len(rows) - len(judged)} unsupported.",
             "", "| scenario | schedule | property | model | live | agrees |", "|---|---|---|---|---|---|"]
    for r in rows:
        agrees = {True: "yes", False: "**NO**", None: "-"}[r.agrees]
        lines.append(f"| {r.spec_id} | {_cell(r.schedule)} | {r.property} | {r.model or 'cannot run it'} | "
                     f"{_cell(f'{r.live.result} {r.live.detail}')} | {agrees} |")
    return "\n".join(lines) + "\n"
