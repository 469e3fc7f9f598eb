"""Run a bound spec under its policies, the matrix of every spec, and replay saved traces.

This is the one place that joins a spec's world to the engine: it prepares a
run (asks the world, through the world's interface, for the variant the
strategy or the user wants), runs it, and returns records that the faces only
read: exports write them, replay consumes them.
"""

from __future__ import annotations

import hashlib
import pickle
import re
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, Sequence

from modelcheck.engine import (STRATEGIES, CheckpointError, Checkpoints, GraphTooBig, NotSearchable, Result,
                               SearchOptions, Verdict, check, cluster_client, replay, state_graph)
from modelcheck.engine import checkpoint
from modelcheck.engine.progress import Progress
from modelcheck.engine.replay import ReplayOutcome
from modelcheck.spec import LoadedSpec, SpecError, bind, load_spec

if TYPE_CHECKING:
    from modelcheck.cow.policies.catalogue import PolicyEntry


@dataclass(frozen=True)
class PolicyRun:
    """One policy's run of one spec: what the faces show and what a trace file records."""

    policy: str
    invariants: tuple[str, ...]
    expected: str | None  # the verdict expected (see Spec.expected), None when unknown
    result: Result
    missing_coverage: tuple[str, ...] = ()  # what the run had to fire (``LoadedSpec.required_coverage``) and did not
    variants: tuple[str, ...] = ()          # the world variants the run searched (replay rebuilds them)
    graph: Any = None  # with --graph: the whole reachable state graph (a networkx.DiGraph, ``engine.graph``)

    @property
    def as_expected(self) -> bool | None:
        """False when the verdict differs from a known expectation or the run was vacuous;
        None when the run ended incomplete or nothing is expected; else True."""
        if self.missing_coverage:
            return False
        if self.result.verdict is Verdict.INCOMPLETE or self.expected is None:
            return None
        return self.result.verdict.value == self.expected


def chosen_invariants(loaded: LoadedSpec) -> tuple[str, ...]:
    known = loaded.world.invariant_names()
    for name in loaded.spec.invariants:
        if name not in known:
            raise SpecError(loaded.path, f"unknown invariant {name!r} (known: {', '.join(known)})")
    return tuple(loaded.spec.invariants)


def with_variant(loaded: LoadedSpec, name: str, required: bool = True) -> LoadedSpec:
    """The spec with its world's variant ``name`` (e.g. "symbolic"); without one, itself or a usage error."""
    world = loaded.world.variant(name)
    if world is None:
        if required:
            raise SpecError(loaded.path, f"this spec's world has no {name} variant "
                                         f"(it has: {', '.join(loaded.world.variants()) or 'none'})")
        return loaded
    return replace(loaded, world=world, variants=loaded.variants + (name,))


def prepare(loaded: LoadedSpec, options: SearchOptions, variants: Sequence[str] = ()) -> LoadedSpec:
    """The spec as the run will search it: the variants the user asked for, then the one the strategy
    prefers where the world offers it."""
    for name in variants:
        loaded = with_variant(loaded, name)
    preferred = STRATEGIES[options.strategy].prefers_world
    if preferred is not None:
        loaded = with_variant(loaded, preferred, required=False)
    return loaded


@contextmanager
def one_cluster(options: SearchOptions) -> Iterator[SearchOptions]:
    """The options with the Dask cluster they ask to start (``dask_workers``) started once, here, and named by
    its scheduler's address, so that a spec's policies share it rather than each starting its own."""
    if options.dask_workers is None:
        yield options
        return
    with cluster_client(options.dask_workers, None) as client:
        yield replace(options, dask_workers=None, scheduler=client.scheduler.address)


def run_spec(loaded: LoadedSpec, policies: Sequence[str], options: SearchOptions,
             progress: Callable[[], Progress] = Progress,
             stop_requested: Callable[[], bool] = lambda: False, graph: bool = False) -> Iterator[PolicyRun]:
    """Check the spec under each policy in turn; stop early if the user interrupts. With
    ``options.checkpoint`` or ``options.resume``, through a checkpoint file (``CheckpointFile``); with
    ``options.dask_workers``, on one Dask cluster started for all of them; with ``graph``, each run
    carrying its model's whole state graph (a usage error for a world too big to draw, said before its
    search)."""
    with one_cluster(options) as on_cluster:
        yield from _run_spec(loaded, policies, on_cluster, progress, stop_requested, graph)


def _run_spec(loaded: LoadedSpec, policies: Sequence[str], options: SearchOptions,
              progress: Callable[[], Progress], stop_requested: Callable[[], bool],
              graph: bool = False) -> Iterator[PolicyRun]:
    invariants = chosen_invariants(loaded)
    required = loaded.required_coverage()
    keeper = CheckpointFile.open(loaded, policies, invariants, options, stop_requested) \
        if options.checkpoint or options.resume else None
    for policy in policies:
        if keeper is not None and policy in keeper.finished:
            yield keeper.finished[policy]
            continue
        started = time.perf_counter()  # the time limit covers building the model too
        model = loaded.world.model(policy, invariants)
        try:
            drawn = state_graph(model) if graph else None
        except GraphTooBig as too_big:
            raise SpecError(loaded.path, f"--graph under {policy}: {too_big}") from None
        try:
            result = check(model, options, progress(), title=f"{loaded.spec.id} {policy}",
                           checkpoints=keeper.checkpoints(policy) if keeper is not None else None,
                           started=started)
        except NotSearchable as why:
            raise SpecError(loaded.path, str(why)) from None
        except CheckpointError as err:
            assert keeper is not None
            raise keeper.error(err) from None
        judged = result.verdict is not Verdict.INCOMPLETE and not (result.violations and options.stop_at_first) \
            and result.coverage_known
        missing = tuple(item for item in required if item not in result.covered) if judged else ()
        run = PolicyRun(policy=policy, invariants=invariants, expected=loaded.spec.expected(policy),
                        result=result, missing_coverage=missing, variants=loaded.variants, graph=drawn)
        if keeper is not None and result.stop.complete:
            keeper.done(run)
        yield run
        if result.interrupted:
            return


def run_cell(spec: str | Path, policy: str, params: Sequence[str] = (),
             options: SearchOptions | None = None) -> dict[str, Any]:
    """One cell of a matrix (a spec under one policy) as plain data, for an executor to run anywhere (a Dask
    worker, another process) and send back: the verdict, whether it is the one expected, the figures, and the
    shortest counterexample's property, length and step labels."""
    options = options or SearchOptions()
    loaded = prepare(bind(spec, load_spec(spec), list(params)), options)
    run = next(run_spec(loaded, [policy], options))
    r, trace = run.result, run.result.counterexample
    return {"spec": loaded.spec.id, "policy": policy, "params": dict(loaded.params), "verdict": r.verdict.value,
            "expected": run.expected, "as_expected": run.as_expected, "states": r.stats.states,
            "transitions": r.stats.transitions, "depth": r.stats.depth, "stop": r.stop.value,
            "property": trace.property if trace is not None else None,
            "length": len(trace) if trace is not None else None,
            "steps": trace.labels() if trace is not None else []}


class CheckpointFile:
    """One checkpoint file for a run of a spec under its policies.

    It holds the results of the policies whose search finished, and the
    snapshot of each policy whose search was stopped (a signal, a time limit),
    under a header naming the search (``identity``): resuming with another spec,
    parameters, policies, options or version of the tool is refused. Written
    when the run starts, by the engine as it searches, and after each policy.
    """

    def __init__(self, path: str, header: dict[str, Any], body: dict[str, Any], every: float,
                 stop_requested: Callable[[], bool]) -> None:
        self.path, self.header, self.every, self.stop_requested = path, header, every, stop_requested
        self.finished: dict[str, PolicyRun] = dict(body.get("finished", {}))
        self.searches: dict[str, bytes] = dict(body.get("searches", {}))

    @classmethod
    def open(cls, loaded: LoadedSpec, policies: Sequence[str], invariants: Sequence[str], options: SearchOptions,
             stop_requested: Callable[[], bool]) -> "CheckpointFile":
        header = identity(loaded, policies, invariants, options)
        body: dict[str, Any] = {}
        if options.resume:
            try:
                body = checkpoint.read(options.resume, header)
            except CheckpointError as err:
                text, prefix = str(err), f"{options.resume}: "
                raise SpecError(options.resume, text[len(prefix):] if text.startswith(prefix) else text) from None
            if not isinstance(body, dict):
                raise SpecError(options.resume, "not a checkpoint of a spec's run")
        keeper = cls(options.checkpoint or options.resume or "", header, body, options.checkpoint_every,
                     stop_requested)
        keeper.write()  # a path that cannot be written is said now, not an hour in
        return keeper

    def error(self, err: Exception) -> SpecError:
        text = str(err)
        prefix = f"{self.path}: "
        return SpecError(self.path, text[len(prefix):] if text.startswith(prefix) else text)

    def write(self) -> None:
        try:
            checkpoint.write(self.path, self.header, {"finished": self.finished, "searches": self.searches})
        except OSError as err:
            raise SpecError(self.path, f"cannot write the checkpoint: {err.strerror or err}") from None

    def checkpoints(self, policy: str) -> Checkpoints:
        saved = self.searches.get(policy)

        def save(snapshot: Any) -> None:
            self.searches[policy] = pickle.dumps(snapshot, protocol=pickle.HIGHEST_PROTOCOL)
            self.write()

        return Checkpoints(save=save, every=self.every, resumed=None if saved is None else pickle.loads(saved),
                           requested=self.stop_requested)

    def done(self, run: PolicyRun) -> None:
        self.finished[run.policy] = run
        self.searches.pop(run.policy, None)
        self.write()


def _tool_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("modelcheck")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown"


def identity(loaded: LoadedSpec, policies: Sequence[str], invariants: Sequence[str],
             options: SearchOptions) -> dict[str, Any]:
    """What a checkpoint must match to be resumed: the tool, the spec (its file's content), its parameters,
    policies, invariants and world variants, and the options that change what a search does (not its
    limits: a resumed run may be given more time)."""
    try:
        digest = hashlib.sha256(Path(loaded.path).read_bytes()).hexdigest()
    except OSError:
        digest = None
    return {"tool": _tool_version(), "spec file content": digest, "spec id": loaded.spec.id,
            "parameters": dict(loaded.params), "policies": list(policies), "invariants": list(invariants),
            "variants": list(loaded.variants), "strategy": options.strategy, "store": options.store,
            "workers": options.workers, "reduce": options.reduce, "stop at the first violation": options.stop_at_first,
            "settings": dict(options.settings)}


def replay_trace(loaded: LoadedSpec, policy: str, invariants: Sequence[str], property_name: str,
                 labels: Sequence[str], initial_state: Any = None, recorded_states: Any = None,
                 parameters: dict[str, int] | None = None) -> ReplayOutcome:
    """Re-execute a recorded counterexample on the spec's world under ``policy`` (with the run's
    parameters at the values the bounded model checker found, if it left any free)."""
    known = loaded.world.invariant_names()
    for name in invariants:
        if name not in known:
            raise SpecError(loaded.path, f"the trace names unknown invariant {name!r}")
    if policy not in loaded.world.policy_names():
        raise SpecError(loaded.path, f"the trace names unknown policy {policy!r}")
    model = loaded.world.model(policy, tuple(invariants))
    if parameters:
        from modelcheck.engine import Parametric

        if not isinstance(model, Parametric) or set(parameters) - set(model.parameters()):
            raise SpecError(loaded.path, "the trace names parameters the world does not have: "
                                         + ", ".join(sorted(parameters)))
        model = model.fixing(parameters)
    return replay(model, property_name, labels, initial_state=initial_state, recorded_states=recorded_states)


def replay_record(record: dict[str, Any], spec_path: Path) -> tuple[LoadedSpec, ReplayOutcome]:
    """Replay one trace record (as ``faces.export`` writes it) against the spec at ``spec_path``."""
    loaded = bind(spec_path, load_spec(spec_path), [f"{k}={v}" for k, v in record["params"].items()])
    for name in record.get("variants", ()):
        loaded = with_variant(loaded, name)
    steps = record["steps"]
    outcome = replay_trace(loaded, record["policy"], record["invariants"], record["property"],
                           [step["label"] for step in steps], initial_state=record.get("initial_state"),
                           recorded_states=[step.get("state") for step in steps],
                           parameters=dict(record.get("parameters", {})))
    return loaded, outcome


class NotReproducible(Exception):
    """A trace that cannot become a spec file or a program (the world's reason, in one line)."""


def scenario_spec(record: dict[str, Any]) -> str:
    """Trace ``record`` as a spec file of a scripted scenario that re-runs it (``cow.trace_scenario``): the
    programs, events and schedule read from the trace's steps, checked here to replay the trace and violate
    its property under its policy before the text is handed out."""
    from modelcheck.cow.trace_scenario import ReproduceError, reproduce

    try:
        reproduction = reproduce(record)
        world = reproduction.world()
    except (ReproduceError, ValueError) as err:
        raise NotReproducible(" ".join(str(err).split())) from None
    if record["policy"] not in world.policy_names():
        raise NotReproducible(f"the trace names unknown policy {record['policy']!r}")
    if record["property"] not in world.invariant_names():
        raise NotReproducible(f"the trace names unknown property {record['property']!r}")
    model: Any = world.model(record["policy"], (record["property"],))  # an engine.Model, as every world's
    outcome = replay(model, record["property"], reproduction.labels)
    if not outcome.ok:
        raise NotReproducible(f"the scenario read from the trace does not re-run it: {outcome.reason}")
    return reproduction.source()


def policy_catalogue() -> list[PolicyEntry]:
    """Every known policy as plain data, oldest first: name, release, commits, rule, and its base and
    pieces in order (commit id or proposal, release, what it changes, the decisions it overrides)."""
    from modelcheck.cow.policies.catalogue import catalogue

    return catalogue()


# -- the matrix: every spec under every policy ---------------------------------------------------------------------

@dataclass(frozen=True)
class Row:
    """One spec's runs under its policies."""

    loaded: LoadedSpec
    runs: tuple[PolicyRun, ...] = field(default_factory=tuple)


def natural_order(text: str) -> list:
    """A sort key that puts C2 before C12 (catalogue ids: the matrix's rows, the nightly's cells)."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text)]


def spec_files(paths: Sequence[str]) -> list[Path]:
    """The given spec files, or every spec in ./specs when none is given."""
    if paths:
        return [Path(p) for p in paths]
    return sorted(Path("specs").glob("*.py"))


def run_matrix(paths: Sequence[str], options: SearchOptions, quiet: bool = False) -> list[Row]:
    """Every spec of ``paths`` (default: ./specs) under every one of its policies, rows in catalogue order."""
    rows = []
    for path in spec_files(paths):
        loaded = prepare(bind(path, load_spec(path)), options)
        runs = tuple(run_spec(loaded, loaded.policies(), options, Progress))
        if not quiet:
            worst = sum(1 for run in runs if run.as_expected is False)
            print(f"{loaded.spec.id:>8}  {path}  {sum(r.result.stats.seconds for r in runs):6.2f} s"
                  + (f"  {worst} differ" if worst else ""), file=sys.stderr)
        rows.append(Row(loaded, runs))
        if any(run.result.interrupted for run in runs):
            break
    rows.sort(key=lambda row: natural_order(row.loaded.spec.id))
    return rows


# -- reproducers: a counterexample as a program for the running kernel -------------------------------------------


def c_reproducer(record: dict[str, Any], invert: bool = False) -> str:
    """The C program that performs the trace's system calls in its order on the running kernel and checks its
    property there (``modelcheck.cow.c_program``); ``invert``: the negative control, every judgement turned."""
    from modelcheck.cow.c_program import Unreproducible, c_program

    try:
        return c_program(record, invert=invert)
    except Unreproducible as why:
        raise NotReproducible(str(why)) from None


def era_policy(kernel_release: str) -> str | None:
    """The merged policy whose declared releases cover ``kernel_release`` (as ``uname -r`` gives it)."""
    from modelcheck.cow.policies.releases import era_policy as policy_of_release

    return policy_of_release(kernel_release)


def newest_policy() -> str:
    """The newest merged policy: the one that stands for the latest release any merged policy starts at (the
    policy of current mainline)."""
    from modelcheck.cow.policies.releases import declared_range, era_policy as policy_of_release

    starts = [span[0] for entry in policy_catalogue() if all(p["merged"] for p in entry["pieces"])
              and (span := declared_range(entry["release"])) is not None]
    newest = policy_of_release("v{}.{}".format(*max(starts)))
    assert newest is not None  # the latest start is some merged policy's
    return newest
