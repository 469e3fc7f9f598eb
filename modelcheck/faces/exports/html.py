"""The ``html`` export: one self-contained page to step through counterexamples in a browser.

The page needs no network and works from ``file://``: its CSS and JavaScript are inline, and the traces
are a JSON document in a ``<script type="application/json">`` element, with ``<``, ``>`` and ``&`` written
as ``\\u`` escapes so that no text of a spec can end the element. The script builds the view from that
document with text nodes only, so nothing from a trace is ever read as markup. The step shown is the
URL's fragment (``#step=N``, ``#trace=K&step=N`` with several traces): the buttons, the arrow keys and the
step list only change the fragment, and the page draws whatever the fragment names, so a link opens a
step and every way of moving is one code path. The same traces give the same bytes.
"""

from __future__ import annotations

import html
import json
from typing import Any, Sequence

from modelcheck import __version__
from modelcheck.faces.exports._shared import Trace, actor_and_action, exporter, verdict_line

# What the viewer reads of a trace record. Not the record's ``spec`` (relative to wherever the trace file
# lies) nor its hash: the page is the same wherever it and its trace file are written.
_VIEWED = ("spec_id", "title", "spec_as_given", "params", "variants", "policy", "property", "search",
           "reductions", "parameters", "explanation", "initial_state", "steps", "verdicts", "decisions")

_STYLE = """
body { font: 15px/1.4 system-ui, sans-serif; margin: 1em 2em; color: #222; }
code, td, .label { font-family: ui-monospace, monospace; }
table { border-collapse: collapse; margin: 0.2em 0; }
th, td { border: 1px solid #bbb; padding: 0.1em 0.5em; text-align: left; vertical-align: top; }
tr.current { font-weight: bold; background: #eef; }
#steps li.current { font-weight: bold; background: #eef; }
#steps li.current::before { content: "\\25B6  "; }
#steps li.violating a { color: #b00; }
.changed { background: #fd6; font-weight: bold; }
.mark { color: #a40; }
.was { font-weight: normal; color: #555; }
.decision.deciding { border-left: 4px solid #b00; padding-left: 0.5em; }
#verdict-line { color: #b00; font-weight: bold; }
nav button { font-size: 1em; margin-right: 0.5em; }
"""

_SCRIPT = r"""
"use strict";
const traces = JSON.parse(document.getElementById("traces").textContent);
const byId = (id) => document.getElementById(id);

// An element of `tag` with attributes and children; strings become text nodes, never markup.
function el(tag, attributes, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes || {})) node.setAttribute(name, value);
  return put(node, ...children);
}
// The node with `children` appended (null ones left out), in place of what it held.
function put(node, ...children) {
  node.replaceChildren(...children.filter((child) => child !== null && child !== undefined));
  return node;
}
const isObject = (v) => v !== null && typeof v === "object" && !Array.isArray(v);
const has = (object, key) => Object.prototype.hasOwnProperty.call(object, key);
const text = (v) => (v === undefined ? "absent" : JSON.stringify(v));
const clamp = (x, low, high) => (Number.isNaN(x) ? low : Math.min(high, Math.max(low, x)));

// The trace (from 1) and step (0 is the initial state) the fragment names, within bounds.
function place() {
  const fragment = new URLSearchParams(location.hash.slice(1));
  const k = clamp(parseInt(fragment.get("trace") || "1", 10), 1, traces.length);
  const n = clamp(parseInt(fragment.get("step") || "0", 10), 0, traces[k - 1].steps.length);
  return { k, n };
}
const fragmentOf = (k, n) => "#" + (traces.length > 1 ? "trace=" + k + "&" : "") + "step=" + n;
function go(k, n) { location.hash = fragmentOf(k, n); }

const stateAfter = (trace, n) => (n === 0 ? trace.initial_state : trace.steps[n - 1].state);

// A state as nested tables; with `compare`, every value that differs from `before` is marked.
function stateTable(now, before, compare, path) {
  const table = el("table");
  const keys = Object.keys(now);
  if (compare && isObject(before)) keys.push(...Object.keys(before).filter((key) => !has(now, key)));
  for (const key of keys) {
    const was = isObject(before) && has(before, key) ? before[key] : undefined;
    table.append(el("tr", {}, el("th", {}, key), stateCell(now[key], was, has(now, key), compare, path.concat(key))));
  }
  return table;
}
function stateCell(now, before, present, compare, path) {
  if (present && isObject(now)) return el("td", {}, stateTable(now, before, compare, path));
  const attributes = { "data-path": path.join(".") };
  if (!compare || (present && text(now) === text(before))) return el("td", attributes, text(now));
  attributes.class = "changed";
  return el("td", attributes, el("span", { class: "mark", title: "changed by this step" }, "* "),
            present ? text(now) : "removed", el("span", { class: "was" }, " (was " + text(before) + ")"));
}

function verdictTable(trace) {
  if (!Array.isArray(trace.verdicts) || trace.verdicts.length === 0) return null;
  const table = el("table", { id: "verdicts" },
                   el("tr", {}, el("th", {}, "policy"), el("th", {}, "verdict"), el("th", {}, "expected")));
  for (const row of trace.verdicts) {
    const mine = row.policy === trace.policy;
    table.append(el("tr", mine ? { class: "current" } : {},
                    el("td", {}, String(row.policy) + (mine ? " (this trace)" : "")), el("td", {}, String(row.verdict)),
                    el("td", {}, row.expected === null ? "-" : String(row.expected))));
  }
  return table;
}

function heading(trace) {
  const entries = (object) => Object.entries(object || {});
  return [el("h1", {}, trace.spec_id + (trace.title ? ": " + trace.title : "")),
    el("p", {}, "policy ", el("code", {}, trace.policy), ", property ", el("code", {}, trace.property),
       ", spec ", el("code", {}, String(trace.spec_as_given)),
       ...entries(trace.params).map(([name, value]) => el("code", {}, " " + name + "=" + value)),
       trace.search ? ", found by " + trace.search + " search" : null,
       (trace.reductions || []).length ? " with " + trace.reductions.join(", ") : null,
       (trace.variants || []).length ? ", variants " + trace.variants.join(", ") : null,
       ...entries(trace.parameters).map(([name, value]) => ", chosen by the solver: " + name + " = " + value)),
    verdictTable(trace)];
}

function stepItems(trace, k, n) {
  const last = trace.steps.length;
  return [el("li", { class: n === 0 ? "initial current" : "initial", value: "0" },
             el("a", { href: fragmentOf(k, 0) }, "initial state")),
    ...trace.steps.map((step, i) => {
      const classes = "step" + (i + 1 === n ? " current" : "") + (i + 1 === last ? " violating" : "");
      return el("li", { class: classes, value: String(i + 1) },
                el("a", { href: fragmentOf(k, i + 1), class: "label" }, step.label),
                i + 1 === last ? " - violates " + trace.property : null);
    })];
}

function decisionItem(d) {
  const facts = [d.decision + " on page " + d.page + ": " + d.outcome + ", not " + d.alternative];
  if (isObject(d.read)) facts.push("read " + Object.entries(d.read).map(([c, v]) => c + " = " + v).join(", "));
  if (isObject(d.rule)) {
    const rule = [d.rule.policy, d.rule.commit && "commit " + d.rule.commit, d.rule.subject];
    facts.push("rule: " + rule.filter((x) => x).join(", "));
  }
  if (isObject(d.flipped)) {
    facts.push(d.alternative + " instead: " + d.flipped.result + (d.flipped.step ? " at step " + d.flipped.step : "")
               + (d.flipped.detail ? " (" + d.flipped.detail + ")" : ""));
  }
  return el("li", { class: d.deciding ? "decision deciding" : "decision" },
            d.deciding ? el("strong", {}, "deciding: ") : null, String(d.words || ""),
            el("ul", {}, ...facts.map((fact) => el("li", {}, fact))));
}

// The whole view of the place the fragment names.
function draw() {
  const { k, n } = place();
  const trace = traces[k - 1];
  const steps = trace.steps;
  const step = n > 0 ? steps[n - 1] : null;
  document.title = trace.spec_id + " under " + trace.policy + ": step " + n + " of " + steps.length;
  if (byId("trace")) byId("trace").value = String(k);
  put(byId("heading"), ...heading(trace));
  put(byId("steps"), ...stepItems(trace, k, n));
  byId("prev").disabled = n === 0;
  byId("next").disabled = n === steps.length;
  put(byId("current"), el("h2", {}, step ? "Step " + n + " of " + steps.length : "Initial state"),
    step ? el("p", {}, el("span", { id: "label", class: "label" }, step.label),
              " by ", el("span", { id: "actor" }, step.actor)) : null,
    step ? el("ul", { id: "changes" },
              ...(Array.isArray(step.changes) ? step.changes : []).map((c) => el("li", {}, String(c)))) : null);
  const now = stateAfter(trace, n);
  const before = n > 0 ? stateAfter(trace, n - 1) : undefined;
  put(byId("state"), el("h3", {}, step ? "State after the step (* changed by it, with what it was)" : "State"),
    isObject(now) ? stateTable(now, before, n > 0 && isObject(before), []) : el("p", {}, "not recorded"));
  const decisions = (trace.decisions || []).filter((d) => d.step === n);
  put(byId("decisions"), decisions.length ? el("h3", {}, "Decisions") : null,
      decisions.length ? el("ul", {}, ...decisions.map(decisionItem)) : null);
  byId("explanation").textContent = trace.explanation || "";
  byId("verdict-line").textContent = trace.verdict_line;
}

byId("prev").addEventListener("click", () => { const { k, n } = place(); go(k, n - 1); });
byId("next").addEventListener("click", () => { const { k, n } = place(); go(k, n + 1); });
document.addEventListener("keydown", (event) => {
  if (event.target.tagName === "SELECT") return;
  if (event.key === "ArrowLeft") byId("prev").click();
  if (event.key === "ArrowRight") byId("next").click();
});
if (byId("trace")) byId("trace").addEventListener("change", (event) => go(Number(event.target.value), 0));
window.addEventListener("hashchange", draw);
draw();
"""


def _script_json(value: Any) -> str:
    """JSON to sit inside a script element: ``<``, ``>`` and ``&`` as ``\\u`` escapes (still the same JSON),
    so no ``</script>`` or ``<!--`` can occur in it; ASCII only."""
    return (json.dumps(value, ensure_ascii=True, separators=(",", ":"))
            .replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))


def _viewed(trace: Trace) -> dict[str, Any]:
    record = {field: trace[field] for field in _VIEWED if field in trace}
    record["steps"] = [{**step, "actor": actor_and_action(step)[0]} for step in trace["steps"]]
    record["verdict_line"] = verdict_line(trace)
    return record


def _text(text: str) -> str:
    """Text for the page's markup: escaped, and ASCII (other characters as references), as is the whole page."""
    return html.escape(text).encode("ascii", "xmlcharrefreplace").decode("ascii")


def _selector(traces: Sequence[Trace]) -> str:
    if len(traces) < 2:
        return ""
    options = "".join(f'<option value="{k}">{k}. {_text(verdict_line(trace))}</option>'
                      for k, trace in enumerate(traces, start=1))
    return f'<p><label>Counterexample <select id="trace">{options}</select></label></p>\n'


def _page(title: str, body: str) -> str:
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>{_text(title)}</title>\n'
            f'<style>{_STYLE}</style>\n</head>\n<body>\n{body}'
            f'<footer><p>Found and written by {_text(f"modelcheck {__version__}")}.</p></footer>\n'
            '</body>\n</html>\n')


@exporter("html", "a self-contained step-through viewer", "html")
def html_viewer(traces: Sequence[Trace]) -> str:
    """One page to step through the traces: a heading, the verdict row, the steps, and for the step shown
    what it did, the state after it with what it changed marked, the policy's decisions there, the verdict."""
    if not traces:
        return _page("No counterexample", "<h1>No counterexample</h1>\n"
                     "<p>The run that wrote these traces found no violation.</p>\n")
    title = verdict_line(traces[0]) if len(traces) == 1 else f"{len(traces)} counterexamples"
    body = (_selector(traces)
            + '<header id="heading"></header>\n'
            + '<noscript><p>This viewer draws the trace with JavaScript; the trace itself is the JSON in this '
              'file.</p></noscript>\n'
            + '<nav><button id="prev" type="button">&larr; Previous</button>'
              '<button id="next" type="button">Next &rarr;</button> (or the left and right arrow keys)</nav>\n'
            + '<main>\n<ol id="steps" start="0"></ol>\n<section id="current"></section>\n'
              '<section id="state"></section>\n<section id="decisions"></section>\n'
              '<section id="verdict"><h2>Verdict</h2><p id="explanation"></p><p id="verdict-line"></p></section>\n'
              '</main>\n'
            + f'<script type="application/json" id="traces">{_script_json([_viewed(t) for t in traces])}</script>\n'
            + f"<script>{_SCRIPT}</script>\n")
    return _page(title, body)
