"""The C reproducers run on the kernel in front of you, compared with the model of its era.

Runner-side glue, like ``nightly``: for each scripted scenario it takes a
counterexample schedule (the running era's own, if its policy violates the
scenario, else the newest merged policy's that does), asks the model what the
era's policy says of that schedule (judged after every step, as the program
judges), and builds and runs the program the world writes for it
(``runner.c_reproducer``); and it runs each scripted scenario whole, in program
order, once per property. Where the program judges (holds or violated), the
two must agree; ``unsupported`` is never a verdict. ``python -m modelcheck
reproduce`` prints the rows and writes them to ``results/reproducers.md``.
"""

from __future__ import annotations

import platform
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from modelcheck.engine import SearchOptions
from modelcheck.runner import PolicyRun, c_reproducer, policy_catalogue, prepare, replay_trace, run_spec
from modelcheck.runner import era_policy as policy_of_release
from modelcheck.spec import LoadedSpec, bind, load_spec, world_settings

RESULT = re.compile(r"^RESULT (\S+) (holds|violated|unsupported) (.*)$", re.M)
_THREAD = re.compile(r"^(parent|child(\d+))(?:\.(\d+))?$")
RUN_SECONDS = 60  # a program waits at most 10 s for a turn; a whole run of a small scenario takes well under 1 s


class ReproduceError(Exception):
    """What stops the sweep before it starts (no compiler, a kernel release no policy declares): one line."""


def era(release: str | None = None) -> str:
    """The policy of the kernel ``release`` (default: this machine's, ``uname -r``)."""
    release = release or platform.release()
    policy = policy_of_release(release)
    if policy is None:
        raise ReproduceError(f"no merged policy declares kernel {release}")
    return policy


def violating_policies(loaded: LoadedSpec, verdicts: dict[str, str]) -> list[str]:
    """The policies under which the scenario is violated (``verdicts``: policy -> verdict), in catalogue order."""
    return [e["name"] for e in policy_catalogue() if verdicts.get(e["name"]) == "violated"]


def chosen_policy(violating: Sequence[str], era_policy: str) -> str | None:
    """The era's policy if it violates the scenario, else the newest merged policy that does, else the first
    proposal that does; None when none does."""
    if era_policy in violating:
        return era_policy
    merged = [e["name"] for e in policy_catalogue() if all(p["merged"] for p in e["pieces"])]
    newest = [p for p in merged if p in violating]
    return newest[-1] if newest else (violating[0] if violating else None)


RecordOf = Callable[[LoadedSpec, PolicyRun], dict[str, Any]]  # a run's first trace as a trace file holds it


def counterexample_record(loaded: LoadedSpec, policy: str, record_of: RecordOf) -> dict[str, Any] | None:
    """The scenario's first counterexample under ``policy`` as a trace record, or None if it holds there."""
    run = next(run_spec(loaded, [policy], SearchOptions()))
    return record_of(loaded, run) if run.result.violations else None


def verdicts_of(loaded: LoadedSpec) -> dict[str, str]:
    """The scenario's verdict under each of its policies, found now (scripted worlds are small)."""
    return {run.policy: run.result.verdict.value for run in run_spec(loaded, loaded.policies(), SearchOptions())}


def era_verdict(loaded: LoadedSpec, record: dict[str, Any], era: str) -> str | None:
    """What the era's model says of the record's schedule and property, judged after every step as the
    program judges: violated if some step violates it, holds if none does, None if the era's model cannot
    take some step of the schedule."""
    labels = whole_steps(loaded, era, record["invariants"], [step["label"] for step in record["steps"]])
    if labels is None:
        return None
    for n in range(1, len(labels) + 1):
        outcome = replay_trace(loaded, era, record["invariants"], record["property"], labels[:n])
        if outcome.ok:
            return "violated"
        if outcome.failed_step != n or "does not violate" not in (outcome.reason or ""):
            return None
    return "holds"


def whole_steps(loaded: LoadedSpec, era: str, invariants: Sequence[str], labels: Sequence[str]) -> list[str] | None:
    """The schedule as the era's model takes it when each step is one whole operation, as the program makes
    it: a step the era's model runs in steps (a fault it takes in two looks, a munmap that drops a PMD's
    counters one at a time) is taken again at once until it is done, unless the schedule's next step of the
    same thread goes on with it (the schedule's own policy ran it in steps too). None if the era's model
    cannot take some step."""
    model = loaded.world.model(era, tuple(invariants))
    mid_operation = getattr(model, "mid_operation", None)
    if mid_operation is None:
        return list(labels)
    state = next(iter(model.initial_states()))
    taken: list[str] = []
    rest = list(labels)
    while rest:
        label = rest.pop(0)
        for _ in range(_MOST_STEPS_OF_ONE_OPERATION):
            step = next(((act, after) for act, after in model.successors(state) if model.action_label(act) == label),
                        None)
            if step is None:
                return None
            act, state = step
            taken.append(label)
            actor = label.split(" ", 1)[0]
            if not mid_operation(act) or next((later for later in rest if later.split(" ", 1)[0] == actor),
                                              None) == label:
                break
        else:
            return None
    return taken


_MOST_STEPS_OF_ONE_OPERATION = 64  # (fork beside GUP-fast takes one per address)


def _thread_rank(actor: str) -> tuple[int, int]:
    m = _THREAD.match(actor)
    return (int(m.group(2) or 0), int(m.group(3) or 1)) if m else (1 << 30, 0)


def program_order_record(loaded: LoadedSpec, prop: str, era_policy: str) -> dict[str, Any] | None:
    """A whole run of a scripted scenario in program order (each step the enabled operation of the first
    thread: the parent before its second thread before child1, ...; kernel events never), as a trace record
    for ``prop`` under the era's policy; None for an open world."""
    if loaded.world.scenario is None:
        return None
    model = loaded.world.model(era_policy, (prop,))
    state = next(iter(model.initial_states()))
    initial, steps = model.state_to_json(state), []
    while True:
        threads = [(model.action_label(a), after) for a, after in model.successors(state)
                   if not model.action_label(a).startswith("kernel ")]
        if not threads:
            break
        label, state = min(threads, key=lambda pair: _thread_rank(pair[0].split(" ", 1)[0]))
        steps.append({"index": len(steps) + 1, "actor": label.split(" ", 1)[0], "label": label,
                      "changes": [], "state": model.state_to_json(state)})
    return {"spec_id": loaded.spec.id, "title": loaded.spec.title, "params": loaded.params, "variants": [],
            "world_settings": world_settings(loaded.world), "policy": era_policy, "invariants": [prop], "property": prop, "initial_state": initial,
            "parameters": {}, "steps": steps}


@dataclass(frozen=True)
class Live:
    """What a program printed: its RESULT (scenario, holds|violated|unsupported, detail) and all of it."""

    scenario: str
    result: str
    detail: str
    output: str


def build_and_run(source: str, workdir: Path, name: str, gcc: str = "gcc") -> Live:
    """Build ``source`` with -Wall -Werror and run it (in ``workdir``, under a timeout); its RESULT line."""
    c_file, binary = workdir / f"{name}.c", workdir / name
    c_file.write_text(source)
    built = subprocess.run([gcc, "-Wall", "-Werror", "-O1", "-o", str(binary), str(c_file)],
                           capture_output=True, text=True)
    if built.returncode != 0:
        raise ReproduceError(f"{name}.c does not compile: {' '.join(built.stderr.split())[:300]}")
    ran = subprocess.run([str(binary)], capture_output=True, text=True, timeout=RUN_SECONDS, cwd=workdir)
    found = RESULT.findall(ran.stdout)
    if len(found) != 1:
        raise ReproduceError(f"{name}: the program printed {len(found)} RESULT lines (exit {ran.returncode})")
    scenario, result, detail = found[0]
    return Live(scenario, result, detail, ran.stdout)


@dataclass(frozen=True)
class Row:
    """One program run: which scenario and schedule, the era model's verdict, the live result."""

    spec_id: str
    schedule: str      # "the counterexample of POLICY", or "whole, in program order"
    property: str
    model: str | None  # the era's model on that schedule: holds, violated, or None (it cannot run it)
    live: Live

    @property
    def agrees(self) -> bool | None:
        """None where the program did not judge (unsupported); else whether live and model agree."""
        if self.live.result == "unsupported":
            return None
        return self.model == self.live.result


def sweep(spec_paths: Sequence[Path], era_policy: str, record_of: RecordOf, gcc: str | None = None,
          whole: bool = True) -> Iterator[Row]:
    """Every scenario's counterexample schedule and, with ``whole``, every scripted scenario run whole per
    property, each built and run here (``record_of``: a run's first trace as a trace record)."""
    compiler = gcc or shutil.which("gcc")
    if compiler is None:
        raise ReproduceError("no C compiler (gcc) to build the reproducers with")
    with tempfile.TemporaryDirectory(prefix="reproducers-") as scratch:
        workdir = Path(scratch)
        for path in spec_paths:
            loaded = prepare(bind(path, load_spec(path)), SearchOptions())
            policy = chosen_policy(violating_policies(loaded, verdicts_of(loaded)), era_policy)
            record = counterexample_record(loaded, policy, record_of) if policy is not None else None
            if record is not None:
                live = build_and_run(c_reproducer(record), workdir, f"{loaded.spec.id}-schedule", compiler)
                yield Row(loaded.spec.id, f"the counterexample of {policy}", record["property"],
                          era_verdict(loaded, record, era_policy), live)
            if not whole:
                continue
            for prop in loaded.spec.invariants:
                whole_run = program_order_record(loaded, prop, era_policy)
                if whole_run is None or not whole_run["steps"]:
                    continue
                live = build_and_run(c_reproducer(whole_run), workdir, f"{loaded.spec.id}-{prop}", compiler)
                yield Row(loaded.spec.id, "whole, in program order", prop,
                          era_verdict(loaded, whole_run, era_policy), live)
