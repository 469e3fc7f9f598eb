"""The ``md`` export: a Markdown report for a mailing-list post or a bug."""

from __future__ import annotations

import re
from typing import Any, Sequence

from modelcheck import __version__
from modelcheck.faces.exports._shared import Trace, changes_of, exporter, params_words, verdict_line


def _code(text: str) -> str:
    """``text`` as a Markdown code span on one line, however many backticks it holds (so nothing in it
    needs escaping)."""
    text = " ".join(text.splitlines())
    fence = "`" * (max((len(run) for run in re.findall(r"`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or not text.strip() else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _prose(text: str) -> str:
    """Text a spec wrote (an explanation) as Markdown prose: the characters that would start markup escaped."""
    return re.sub(r"([\\`*_<])", r"\\\1", " ".join(text.split()))


def _markdown_trace(trace: Trace, heading: str) -> list[str]:
    title = trace.get("title")
    scenario = _code(str(trace["spec_id"])) + (f", {_prose(str(title))}" if title else "")
    params = params_words(trace)
    lines = [f"{heading} {trace['spec_id']} under {trace['policy']}: {trace['property']} violated", "",
             f"- Scenario: {scenario}",
             f"- Spec file: {_code(str(trace['spec_as_given']))}" + (f" ({_code(params)})" if params else ""),
             f"- Policy: {_code(str(trace['policy']))}" + _rule_words(trace.get("policy_rule")),
             f"- Property: {_code(str(trace['property']))}"]
    if trace.get("variants"):
        lines.append(f"- Variants: {', '.join(_code(str(v)) for v in trace['variants'])}")
    if trace.get("parameters"):
        lines.append("- Chosen by the solver: " + ", ".join(
            _code(f"{name} = {value}") for name, value in trace["parameters"].items()))
    if trace.get("search"):
        lines.append(f"- Found by: {_code(str(trace['search']))} search"
                     + (f" with {', '.join(trace['reductions'])}" if trace.get("reductions") else ""))
    lines += ["", f"{heading}# Steps", ""]
    for n, step in enumerate(trace["steps"], start=1):
        lines.append(f"{n}. {_code(step['label'])}")
        lines += [f"   - {_code(change)}" for change in changes_of(step)]
    lines += ["", f"{heading}# Verdict", ""]
    if trace.get("explanation"):
        lines += [f"> {_prose(str(trace['explanation']))}", ""]
    lines.append(f"**{verdict_line(trace)}.**")
    lines += _explanation(trace, heading)
    verdicts = trace.get("verdicts") or []
    if verdicts:
        lines += ["", f"{heading}# Verdicts of {_prose(str(trace['spec_id']))}", "", "| policy | verdict | expected |",
                  "|---|---|---|"]
        lines += [f"| {_code(str(v['policy']))} | {'**' + str(v['verdict']) + '**' if v['policy'] == trace['policy'] else v['verdict']}"
                  f" | {v.get('expected') or '-'} |" for v in verdicts]
    return lines


def _rule_words(rule: Any) -> str:
    if not isinstance(rule, dict):
        return ""
    commits = rule.get("commits")
    return (f" ({_prose(str(rule.get('release', '')))}" + (f"; commits {_prose(str(commits))}" if commits and commits != "-" else "")
            + f"): {_prose(str(rule.get('rule', '')))}")


def _explanation(trace: Trace, heading: str) -> list[str]:
    """The policy's choices along the trace, the deciding one nearest the violation first."""
    decisions = trace.get("decisions") or []
    if not decisions:
        return []
    deciding = [d for d in decisions if d.get("deciding")]
    lines = ["", f"{heading}# Which decision decided it", ""]
    if deciding:
        lines += [f"**{_prose(str(deciding[-1]['words']))}.**", ""]
    else:
        lines += ["No single choice of the policy decides it: each taken the other way still ends in the violation "
                  "or stops the schedule.", ""]
    lines += ["Every choice of the policy on the trace, each taken the other way along the same schedule:", ""]
    lines += [f"- {'**deciding**: ' if d.get('deciding') else ''}{_prose(str(d['words']))}" for d in decisions]
    return lines


@exporter("md", "a Markdown report for a mail or a bug")
def markdown(traces: Sequence[Trace]) -> str:
    """A report to paste into a mail or a bug: per trace its scenario, policy, property, numbered steps with
    what each changed, and the verdict; a file of no traces says the run found no violation."""
    if not traces:
        return "# No counterexample\n\nThe run that wrote these traces found no violation.\n"
    lines: list[str] = []
    heading = "#" if len(traces) == 1 else "##"
    if len(traces) > 1:
        lines += [f"# {len(traces)} counterexamples", ""]
    for trace in traces:
        lines += _markdown_trace(trace, heading) + [""]
    lines.append(f"Found and written by modelcheck {__version__}.")
    return "\n".join(lines) + "\n"
