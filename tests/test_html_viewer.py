"""The html export in a real browser: headless Chromium opens C3's page from file:// at every step
(``#step=N``) and the tests read the DOM it dumps: the steps, the step shown, what it changed marked in the
state, the verdict; the buttons and arrow keys move through the steps; a screenshot is a PNG.

Chromium is the Debian package ``chromium`` (or ``chromium-browser``, ``google-chrome``); without one the
tests skip, except under CI, where .ci/run installs it and they must run.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from modelcheck.faces.cli import main

ROOT = Path(__file__).resolve().parents[1]
BROWSER = next((path for path in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if path), None)

pytestmark = pytest.mark.skipif(
    BROWSER is None and not os.environ.get("CI"),
    reason="no Chromium (chromium, chromium-browser or google-chrome) is installed "
           "(.ci/run installs it: under CI these tests run)")


@dataclass
class Element:
    """An element of a dumped DOM: enough of a tree to find elements and read their text."""

    tag: str
    attrs: dict[str, str]
    children: list[Element | str] = field(default_factory=list)

    @property
    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())

    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def all(self, match: Callable[[Element], bool]) -> Iterator[Element]:
        for child in self.children:
            if isinstance(child, Element):
                if match(child):
                    yield child
                yield from child.all(match)

    def find(self, name: str) -> Element | None:
        """The element of id ``name``, if there is one."""
        return next(self.all(lambda e: e.attrs.get("id") == name), None)

    def by_id(self, name: str) -> Element:
        """The element of id ``name``, which must be there."""
        found = self.find(name)
        assert found is not None, f"no element #{name}"
        return found

    def having(self, tag: str, cls: str | None = None) -> list[Element]:
        return list(self.all(lambda e: e.tag == tag and (cls is None or cls in e.classes)))


class _TreeBuilder(HTMLParser):
    VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Element("#document", {})
        self.open = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, {name: value or "" for name, value in attrs})
        self.open[-1].children.append(element)
        if tag not in self.VOID:
            self.open.append(element)

    def handle_endtag(self, tag: str) -> None:
        while len(self.open) > 1 and self.open.pop().tag != tag:
            pass

    def handle_data(self, data: str) -> None:
        self.open[-1].children.append(data)


def parse(dom: str) -> Element:
    builder = _TreeBuilder()
    builder.feed(dom)
    builder.close()
    return builder.root


def chromium(tmp_path: Path, *args: str) -> str:
    """Headless Chromium's standard output for ``args``, with a private profile. Always without the sandbox:
    it needs root's --no-sandbox, and many containers cannot give it the namespaces it needs; the pages
    are the tests' own."""
    assert BROWSER, "no Chromium (chromium, chromium-browser or google-chrome) on PATH"
    command = [BROWSER, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
               f"--user-data-dir={tmp_path / 'chromium-profile'}", "--virtual-time-budget=5000", *args]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"{command} exited {done.returncode}: {done.stderr[-2000:]}"
    return done.stdout


def open_at(tmp_path: Path, page: Path, fragment: str) -> Element:
    return parse(chromium(tmp_path, "--dump-dom", f"{page.as_uri()}#{fragment}"))


def export_html(tmp_path: Path, traces: Path, name: str = "viewer.html") -> Path:
    page = tmp_path / name
    assert main(["export", str(traces), "--to", "html", "--out", str(page)]) == 0
    return page


@pytest.fixture(scope="module")
def c3(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """C3 under mapcount from a real run: its trace file and its one trace."""
    path = tmp_path_factory.mktemp("c3") / "c3.json"
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(ROOT)
        assert main(["specs/vmsplice.py", "--policy", "mapcount", "--quiet", "--trace-out", str(path)]) == 0
    return path, json.loads(path.read_text())["traces"][0]


def differing_leaves(now: Any, before: Any, path: tuple[str, ...] = ()) -> set[str]:
    """The dotted paths of the state's values (and of the values it no longer has) that differ from before."""
    if isinstance(now, dict):
        old = before if isinstance(before, dict) else {}
        paths = {p for key in now for p in differing_leaves(now[key], old.get(key, KeyError), path + (key,))}
        return paths | {".".join(path + (key,)) for key in old if key not in now}
    return set() if now == before else {".".join(path)}


def changed_cells(dom: Element) -> dict[str, str]:
    return {cell.attrs["data-path"]: cell.text() for cell in dom.by_id("state").having("td", "changed")}


def test_every_step_of_c3_opens_from_its_fragment(tmp_path, c3):
    trace_file, trace = c3
    page = export_html(tmp_path, trace_file)
    steps, states = trace["steps"], [trace["initial_state"]] + [s["state"] for s in trace["steps"]]
    for n in range(len(steps) + 1):
        dom = open_at(tmp_path, page, f"step={n}")
        for name in ("heading", "prev", "next", "steps", "current", "state", "verdict-line", "explanation"):
            assert dom.find(name) is not None, f"step {n}: no #{name}"
        assert dom.by_id("heading").having("h1")[0].text() == f"C3: {trace['title']}"
        items = dom.by_id("steps").having("li", "step")
        assert [item.having("a")[0].text() for item in items] == [s["label"] for s in steps]
        assert [li.attrs["value"] for li in dom.having("li", "current")] == [str(n)]
        assert "violating" in items[-1].classes and "violates no_leak_to_child" in items[-1].text()
        assert ("disabled" in dom.by_id("prev").attrs) == (n == 0)
        assert ("disabled" in dom.by_id("next").attrs) == (n == len(steps))
        if n:
            assert dom.by_id("label").text() == steps[n - 1]["label"]
            assert dom.by_id("actor").text() == steps[n - 1]["actor"]
            assert [li.text() for li in dom.by_id("changes").having("li")] == steps[n - 1]["changes"]
        assert set(changed_cells(dom)) == (differing_leaves(states[n], states[n - 1]) if n else set()), f"step {n}"
        assert dom.by_id("verdict-line").text() == "C3 under mapcount: no_leak_to_child violated at step 5"
        assert dom.by_id("explanation").text() == trace["explanation"]
        if n == 4:  # the parent's write fault reuses page 0 (mapcount 1): its PTE turns writable, page 0 is written
            assert changed_cells(dom) == {"processes.parent.pte.a0.writable": "* true (was false)",
                                          "pages.0.value": "* [0,1] (was [0,0])"}
        if n == 1:  # fork: page 0 mapped twice
            assert changed_cells(dom)["pages.0.mapcount"] == "* 2 (was 1)"


def test_a_screenshot_of_a_step_is_a_png(tmp_path, c3):
    page = export_html(tmp_path, c3[0])
    shot = tmp_path / "c3-step-4.png"
    chromium(tmp_path, "--hide-scrollbars", "--window-size=1000,1400", f"--screenshot={shot}", f"{page.as_uri()}#step=4")
    print(f"screenshot of C3's step 4: {shot}")
    data = shot.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 10_000


# Run after the viewer: moves through the steps with the buttons, the arrow keys and a step's link, each
# move waited for (the viewer draws on hashchange, before this listener), and writes where each one landed.
DRIVE = """<script>
(async () => {
  const seen = [];
  const move = (how, act) => {
    const moved = new Promise((done) => addEventListener("hashchange", done, { once: true }));
    act();
    return moved.then(() => seen.push(how + " " + location.hash + " " +
                                       document.querySelector("#steps li.current").getAttribute("value") + " " +
                                       (document.getElementById("label") || { textContent: "-" }).textContent));
  };
  const key = (name) => () => document.dispatchEvent(new KeyboardEvent("keydown", { key: name, bubbles: true }));
  for (let i = 0; i < STEPS; i++) await move("next", () => document.getElementById("next").click());
  await move("left", key("ArrowLeft"));
  await move("left", key("ArrowLeft"));
  await move("right", key("ArrowRight"));
  await move("prev", () => document.getElementById("prev").click());
  await move("link", () => document.querySelectorAll("#steps li.step a")[1].click());
  const log = document.createElement("pre");
  log.id = "seen";
  log.textContent = seen.join("\\n");
  document.body.append(log);
})();
</script>
"""


def test_the_buttons_and_arrow_keys_step_through_the_trace(tmp_path, c3):
    trace_file, trace = c3
    steps = trace["steps"]
    page = export_html(tmp_path, trace_file)
    driven = tmp_path / "driven.html"
    driven.write_text(page.read_text().replace("</body>", DRIVE.replace("STEPS", str(len(steps))) + "</body>"))
    seen = open_at(tmp_path, driven, "step=0").find("seen")
    assert seen is not None, "the moves never all landed (a button or key that does not move the page)"
    label = {n: steps[n - 1]["label"] if n else "-" for n in range(len(steps) + 1)}
    expected = [("next", n) for n in range(1, len(steps) + 1)]
    last = len(steps)
    expected += [("left", last - 1), ("left", last - 2), ("right", last - 1), ("prev", last - 2), ("link", 2)]
    assert seen.text().splitlines() == [f"{how} #step={n} {n} {label[n]}" for how, n in expected]


def test_several_traces_verdicts_decisions_and_spec_text_in_the_browser(tmp_path, c3):
    trace_file, trace = c3
    trace = {name: value for name, value in trace.items() if name not in ("verdicts", "decisions")}  # as older ones
    nasty = "parent </script><b>bold</b> & <i>"
    other = dict(trace, policy="other", steps=[dict(trace["steps"][0], label=nasty)] + trace["steps"][1:3])
    other["verdicts"] = [{"policy": "mapcount", "verdict": "violated", "expected": "violated"},
                         {"policy": "other", "verdict": "violated", "expected": None}]
    other["decisions"] = [{"step": 1, "actor": "parent", "decision": "fork_page", "page": 0, "outcome": "share",
                           "alternative": "copy", "rule": {"policy": "other", "commit": None, "subject": "s",
                                                           "changes": "c"},
                           "read": {"mapcount": 1}, "flipped": {"result": "avoids", "step": None, "detail": "d"},
                           "deciding": True, "words": "step 1: " + nasty}]
    two = tmp_path / "two.json"
    document = json.loads(trace_file.read_text())
    two.write_text(json.dumps(dict(document, traces=[trace, other])))
    page = export_html(tmp_path, two)
    dom = open_at(tmp_path, page, "trace=2&step=1")
    assert len(dom.by_id("trace").having("option")) == 2
    assert dom.by_id("label").text() == nasty and not dom.having("b") and not dom.having("i")
    assert len(dom.by_id("steps").having("li", "step")) == 3
    assert dom.by_id("verdict-line").text() == "C3 under other: no_leak_to_child violated at step 3"
    mine = dom.by_id("verdicts").having("tr", "current")
    assert [row.having("td")[0].text() for row in mine] == ["other (this trace)"]
    deciding = dom.having("li", "deciding")
    assert len(deciding) == 1 and deciding[0].text().startswith("deciding: step 1: " + nasty)
    first = open_at(tmp_path, page, "trace=1&step=4")
    assert first.find("verdicts") is None and not first.having("li", "decision")
    assert first.by_id("label").text() == "parent write(a0)"


def test_a_value_the_state_no_longer_has_is_marked_removed(tmp_path, c3):
    trace_file, trace = c3
    before = {"pages": {"0": {"mapcount": 1}, "constructor": {"mapcount": 2}}, "gone": 1}
    after = {"pages": {"0": {"mapcount": 1}}}
    changed = dict(trace, initial_state=before, steps=[dict(trace["steps"][0], state=after)])
    one = tmp_path / "removed.json"
    one.write_text(json.dumps(dict(json.loads(trace_file.read_text()), traces=[changed])))
    cells = changed_cells(open_at(tmp_path, export_html(tmp_path, one), "step=1"))
    assert cells == {"pages.constructor": '* removed (was {"mapcount":2})', "gone": "* removed (was 1)"}
    assert set(cells) == differing_leaves(after, before)
