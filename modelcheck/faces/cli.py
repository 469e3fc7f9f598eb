"""The command line.

    python -m modelcheck SPEC [--policy NAME ...] [--param NAME=VALUE ...] [--bfs|--dfs|--dpor|--simulate]
                              [--reduce] [--store dict|compact|compiled|fingerprint] [--workers N] [--symbolic-refs]
                              [--dask-workers N | --scheduler ADDRESS]
                              [--engine explicit|bmc] [--depth K] [--walks N] [--seed S]
                              [--minimize] [--no-stop] [--max-states N] [--time-limit S] [--max-memory SIZE]
                              [--checkpoint FILE [--checkpoint-every 60s]] [--resume FILE]
                              [--json] [--trace-out FILE] [--graph] [--export FORMAT --out FILE]
                              [--quiet] [--no-timing]
    python -m modelcheck replay FILE [--spec SPEC | --trust-spec]
    python -m modelcheck export FILE --to FORMAT [--trace N] [--out FILE]
    python -m modelcheck policies [--markdown]
    python -m modelcheck matrix [SPEC ...]
    python -m modelcheck nightly [SPEC ...] [--budget 30m] [--out results/nightly] [--baseline FILE]
                                 [--workers N | --scheduler ADDRESS]

Ctrl-C, SIGTERM and SIGHUP end a run alike (with --checkpoint, after saving it).
Exit status: 0 every verdict as expected, 1 some verdict differs (or a trace
does not replay), 2 a usage error (one line on stderr, no traceback),
3 a run ended incomplete.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import signal
import sys
import threading
import textwrap
from pathlib import Path
from typing import Any, Mapping, NoReturn, Sequence, TextIO

from modelcheck.engine import (GRAPH_LIMIT, SAFE_FRACTION, STORES, STRATEGIES, ClusterUnavailable, EnginesDisagree,
                               SearchOptions, Verdict, WorkerFailed, default_limit, parse_size)
from modelcheck.engine.progress import progress_for
from modelcheck.faces import export, exports, text
from modelcheck.runner import (PolicyRun, era_policy, natural_order, newest_policy, policy_catalogue, prepare,
                               replay_record, run_matrix, run_spec, spec_files)
from modelcheck.spec import LoadedSpec, SpecError, bind, load_spec, spec_sha256

EXIT_OK, EXIT_DIFFERS, EXIT_USAGE, EXIT_INCOMPLETE = 0, 1, 2, 3


class UsageError(Exception):
    """A mistake on the command line: reported as one line, exit status 2."""


def one_line(message: str) -> str:
    """The message as one line: what a spec, a file or an argument put in it (an exception's text, a path, a
    label) may hold newlines or other control characters, shown escaped."""
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in message)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, no usage dump
        raise UsageError(f"{message} (see {self.prog} --help)")


def _check_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m modelcheck",
                description="Check a spec under every policy and print a verdict table. "
                            "Other commands: 'replay FILE' re-executes a saved trace; "
                            "'policies' lists the known policies; 'matrix [SPEC ...]' runs every spec "
                            "under every policy and writes results/matrix.md and results/matrix.json; "
                            "'nightly [SPEC ...]' climbs every spec's bound ladder within a budget and writes a "
                            "record, a summary, JUnit XML and TAP (docs/nightly.md).")
    p.add_argument("spec", help="a spec file (Python defining SPEC = Spec(...))")
    p.add_argument("--policy", action="append", metavar="NAME",
                   help="check only this policy (repeatable; default: the spec's, else all)")
    p.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                   help="override one of the spec's parameters (repeatable)")
    order = p.add_mutually_exclusive_group()
    for strategy in STRATEGIES.values():  # each strategy that has a flag of its own
        if strategy.flag_help:
            order.add_argument(f"--{strategy.name}", dest="strategy", action="store_const", const=strategy.name,
                               help=strategy.flag_help)
    p.set_defaults(strategy="bfs")
    reduce = p.add_mutually_exclusive_group()
    reduce.add_argument("--reduce", dest="reduce", action="store_true",
                        help="apply the reductions that cannot change a verdict (page-slot symmetry); "
                             "state counts then count representatives")
    reduce.add_argument("--no-reduce", dest="reduce", action="store_false",
                        help="explore and count every state, symmetric ones too (default)")
    p.set_defaults(reduce=False)
    p.add_argument("--store", choices=list(STORES),
                   help="visited states: dict (exact, keeps the way back to each state), compact (exact, "
                        "packed; numpy), compiled (compact's table and the world's successors in numba-compiled "
                        "loops) or fingerprint (8 bytes a state; may miss states, and says how likely that "
                        "is); default: compiled where the world offers batch successors (the open reference "
                        "world), or compact there if numba is absent; compact with several workers; else dict; "
                        "all but dict need --bfs")
    p.add_argument("--workers", type=int, default=1, metavar="N",
                   help="worker processes forked on this machine, each owning a hash partition of the store "
                        "(breadth-first)")
    p.add_argument("--dask-workers", type=int, metavar="N",
                   help="search on a Dask cluster started on this machine with N worker processes, each owning "
                        "a hash partition of the store (breadth-first; needs modelcheck[distributed])")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="search on the running Dask cluster whose scheduler is at ADDRESS (tcp://host:8786), "
                        "each of its workers owning a hash partition of the store (breadth-first)")
    p.add_argument("--symbolic-refs", action="store_true",
                   help="speculative and transient references: any number per page at every step, "
                        "decided by z3, instead of enumerated up to S (the verdict then holds for any number)")
    p.add_argument("--engine", choices=("explicit", "bmc"), default="explicit",
                   help="explicit: search the states (default); bmc: bounded model checking in z3, the "
                        "transition relation unrolled --depth steps, as a second opinion")
    p.add_argument("--depth", type=int, metavar="K",
                   help="; ".join(s.depth_help for s in STRATEGIES.values() if s.depth_help))
    for name, help_text in sorted({setting for s in STRATEGIES.values() for setting in s.settings}):
        p.add_argument(f"--{name}", type=int, metavar="N", dest=f"setting_{name}", help=help_text)
    p.add_argument("--minimize", action="store_true",
                   help="shrink each counterexample a search without a shortest-first guarantee found ("
                        + ", ".join(f"--{s.name}" for s in STRATEGIES.values() if s.flag_help and not s.shortest)
                        + ") to a shortest one that replays (delta debugging, then a breadth-first "
                        "search bounded to its length); breadth-first counterexamples are shortest already")
    p.add_argument("--no-stop", action="store_true",
                   help="explore every reachable state instead of stopping at the first violation")
    p.add_argument("--max-states", type=int, metavar="N", help="end the run as incomplete after N states")
    p.add_argument("--time-limit", type=float, metavar="SECONDS",
                   help="end the run as incomplete after this many seconds")
    p.add_argument("--max-memory", type=_memory_size, metavar="SIZE",
                   help="end the run as incomplete, with what it found so far, when this process (with its "
                        "workers) holds this much: 512M, 8G, or 60%% of the machine's memory (default: "
                        f"{int(SAFE_FRACTION * 100)}%%)")
    p.add_argument("--checkpoint", metavar="FILE",
                   help="save the search to FILE as it goes, and when stopped (Ctrl-C, SIGTERM, SIGHUP, "
                        "--time-limit), to be continued by --resume (breadth-first only; docs/checkpoints.md)")
    p.add_argument("--checkpoint-every", type=_duration, default=60.0, metavar="DURATION",
                   help="time between checkpoints: seconds, or with s, m or h (default 60s)")
    p.add_argument("--resume", metavar="FILE",
                   help="continue the search saved in FILE (the same command otherwise); it goes on saving to "
                        "FILE unless --checkpoint names another")
    p.add_argument("--json", action="store_true", help="print one JSON document (docs/json.md) instead of text")
    p.add_argument("--trace-out", metavar="FILE", help="write the counterexample traces to FILE as JSON")
    p.add_argument("--export", choices=list(exports.FORMATS), metavar="FORMAT",
                   help="write the counterexamples to --out as " + _format_words() + " (docs/exports.md)")
    p.add_argument("--out", metavar="FILE", help="where --export writes")
    p.add_argument("--graph", action="store_true",
                   help="record in each trace the whole reachable state graph, for the dot-graph and mermaid-graph "
                        f"exports (worlds of at most {GRAPH_LIMIT} states; not with --engine bmc)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--full", action="store_true",
                   help="with each counterexample, the whole state after every step and a table of which "
                        "invariants hold after each step")
    p.add_argument("--no-timing", dest="timing", action="store_false",
                   help="leave the clock out of the report (no seconds or states/s; JSON: null), so that two "
                        "runs of the same command print the same")
    return p


def _memory_size(text: str) -> int:
    try:
        return parse_size(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _duration(text: str) -> float:
    """'90', '90s', '5m' or '1h' in seconds."""
    units = {"s": 1.0, "m": 60.0, "h": 3600.0}
    number, unit = (text[:-1], units[text[-1]]) if text[-1:] in units else (text, 1.0)
    try:
        return float(number) * unit
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a duration: {text!r} (seconds, or with s, m or h)") from None


def _check(argv: Sequence[str], interrupts: Interrupts | None = None) -> int:
    args = _check_parser().parse_args(argv)
    interrupts = interrupts or Interrupts()
    interrupts.deferred = bool(args.checkpoint or args.resume)  # a stop signal first saves a checkpoint
    try:
        if args.engine == "bmc":
            if args.strategy != "bfs":
                raise ValueError(f"--engine bmc is a search of its own: it does not combine with --{args.strategy}")
            args.strategy = "bmc"
            if args.graph:
                raise ValueError("--graph draws the explicit state graph: not with --engine bmc")
        options = SearchOptions(strategy=args.strategy, stop_at_first=not args.no_stop, depth=args.depth,
                                max_states=args.max_states, time_limit=args.time_limit, reduce=args.reduce,
                                store=args.store, workers=args.workers, checkpoint=args.checkpoint,
                                dask_workers=args.dask_workers, scheduler=args.scheduler,
                                checkpoint_every=args.checkpoint_every, resume=args.resume, minimize=args.minimize,
                                max_memory=args.max_memory if args.max_memory is not None else default_limit(),
                                settings=tuple((name[len("setting_"):], value) for name, value in vars(args).items()
                                               if name.startswith("setting_") and value is not None))
    except ValueError as err:
        raise UsageError(str(err)) from None
    if args.trace_out is not None and (not args.trace_out or not Path(args.trace_out).parent.is_dir()):
        raise UsageError(f"--trace-out {args.trace_out!r}: not a file in an existing directory")  # say it before the run
    if (args.export is None) != (args.out is None):
        raise UsageError("--export FORMAT and --out FILE go together")
    if args.out is not None and (not args.out or not Path(args.out).parent.is_dir()):
        raise UsageError(f"--out {args.out!r}: not a file in an existing directory")
    loaded = bind(args.spec, load_spec(args.spec), args.param)
    loaded = prepare(loaded, options, ["symbolic"] if args.symbolic_refs else [])
    policies = loaded.policies(args.policy)
    runs: list[PolicyRun] = list(run_spec(loaded, policies, options, lambda: progress_for(args.quiet),
                                          lambda: interrupts.requested, graph=args.graph))
    if args.json:
        json.dump(export.result_document(loaded, runs, options.stop_at_first, args.timing), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        text.report(sys.stdout, loaded, runs, options.strategy, options.stop_at_first, options.reduce, args.timing,
                    args.full)
        if any(STORES[run.result.figures["store"]].packed for run in runs if "store" in run.result.figures):
            sys.stdout.write(text.stores(runs) + "\n")
    if args.trace_out:
        document = export.trace_document(loaded, runs, args.trace_out)
        try:
            export.write_json(args.trace_out, document)
        except OSError as err:
            raise UsageError(f"{args.trace_out}: cannot write the trace file: {err.strerror}") from None
        print(f"wrote {len(document['traces'])} trace(s) to {args.trace_out}", file=sys.stderr)
    if args.export and args.out:
        _export_run(loaded, runs, args.export, args.out)
    if any(run.result.interrupted for run in runs):
        explored = sum(run.result.stats.states for run in runs)
        skipped = policies[len(runs):]
        print(f"interrupted: {explored:,} states explored"
              + (f"; not run: {', '.join(skipped)}" if skipped else ""), file=sys.stderr)
    if any(run.as_expected is False for run in runs):
        return EXIT_DIFFERS
    if any(run.result.verdict is Verdict.INCOMPLETE for run in runs) or len(runs) < len(policies):
        return EXIT_INCOMPLETE
    return EXIT_OK


def _export_run(loaded: LoadedSpec, runs: Sequence[PolicyRun], fmt: str, out: str) -> None:
    """--export on a check: the run's traces as the trace file would hold them, rendered. A diagram of no
    counterexample (or of several) is not drawn, and says so, without changing the run's exit status."""
    traces = export.trace_document(loaded, runs, out)["traces"]
    try:
        rendered = exports.render(fmt, traces)
    except exports.ExportError as err:
        hint = " (choose one with --policy)" if len(traces) > 1 else ""
        print(f"modelcheck: {one_line(str(err))}{hint}; {out} not written", file=sys.stderr)
        return
    _write_text(out, rendered)
    print(f"wrote {len(traces)} counterexample(s) as {fmt} to {out}", file=sys.stderr)


def _write_text(out: str, content: str) -> None:
    try:
        Path(out).write_text(content)
    except OSError as err:
        raise UsageError(f"{out}: cannot write: {err.strerror}") from None


def _format_words() -> str:
    """Every export format with what it is, for --help (from the formats' registry)."""
    return ", ".join(f"{f.name} ({f.summary})" for f in exports.FORMATS.values())


def _export(argv: Sequence[str]) -> int:
    p = _Parser(prog="python -m modelcheck export",
                description="Render the counterexamples of a trace file to read or share: " + _format_words() + ".")
    p.add_argument("file", help="a trace file written by --trace-out")
    p.add_argument("--to", required=True, choices=list(exports.FORMATS), metavar="FORMAT",
                   help=", ".join(exports.FORMATS))
    p.add_argument("--trace", type=int, metavar="N", help="only the file's Nth trace (from 1)")
    p.add_argument("--out", metavar="FILE", help="write to FILE instead of standard output")
    args = p.parse_args(argv)
    if args.out is not None and (not args.out or not Path(args.out).parent.is_dir()):
        raise UsageError(f"--out {args.out!r}: not a file in an existing directory")
    try:
        traces = export.read_trace_file(args.file).traces
    except export.TraceFileError as err:
        raise UsageError(str(err)) from None
    if args.trace is not None:
        if not 1 <= args.trace <= len(traces):
            raise UsageError(f"{args.file}: --trace {args.trace}: the file holds {len(traces)} trace(s)")
        traces = traces[args.trace - 1:args.trace]
    try:
        rendered = exports.render(args.to, traces)
    except exports.ExportError as err:
        hint = ": pick one with --trace N" if len(traces) > 1 else ""
        raise UsageError(f"{args.file}: {err}{hint}") from None
    if args.out is None:
        sys.stdout.write(rendered)
    else:
        _write_text(args.out, rendered)
    return EXIT_OK


def _spec_to_replay(document: export.TraceFile, n: int, recorded: Mapping[str, Any], given: str | None,
                    trust: bool) -> Path:
    """The spec file trace ``n`` replays against: the one given with --spec, or with --trust-spec the one the
    trace names (relative to the trace file); either must hash as the trace recorded. A spec is Python code,
    so replay never runs one the user did not name or ask for."""
    trace_file, recorded_hash = document.path, recorded.get("spec_sha256")
    if given is not None:
        path = Path(given)
    elif not trust:
        raise UsageError(f"{trace_file}: replay runs the spec's Python code: pass --spec FILE (the trace was written "
                         f"from {recorded.get('spec_as_given', recorded['spec'])}), or --trust-spec to run the spec "
                         "the trace names")
    elif not document.records_hashes:
        raise UsageError(f"{trace_file}: a {document.schema} file records no hash of its spec, so --trust-spec "
                         "cannot tell whether it changed: pass --spec FILE")
    else:
        path = trace_file.parent / recorded["spec"]
        if not path.is_file():
            raise UsageError(f"{trace_file}: trace {n} names the spec {path}, which is not there: pass --spec FILE")
    if recorded_hash is not None and spec_sha256(path) != recorded_hash:
        raise UsageError(f"{path}: not the spec trace {n} of {trace_file} was found in (its sha256 differs: it "
                         "changed since, or it is another spec); find the trace again")
    return path


def _replay(argv: Sequence[str]) -> int:
    p = _Parser(prog="python -m modelcheck replay",
                description="Re-execute the counterexamples of a trace file against the spec they were found in. "
                            "A spec is Python code that runs with your rights: name it with --spec FILE, or "
                            "pass --trust-spec to run the one the trace names.")
    p.add_argument("file", help="a trace file written by --trace-out")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--spec", metavar="FILE",
                       help="replay against this spec file (it must be the one the traces were found in: "
                            "same sha256)")
    which.add_argument("--trust-spec", action="store_true",
                       help="run the spec file the trace names, relative to the trace file (its sha256 checked)")
    p.add_argument("--quiet", action="store_true", help="print only whether each trace replays")
    args = p.parse_args(argv)
    try:
        document = export.read_trace_file(args.file)
    except export.TraceFileError as err:
        raise UsageError(str(err)) from None
    if not document.traces:  # what a run without a violation writes
        print(f"{document.path}: nothing to replay (no traces: the run that wrote it found no violation)")
        return EXIT_OK
    specs = [_spec_to_replay(document, n, recorded, args.spec, args.trust_spec)
             for n, recorded in enumerate(document.traces, start=1)]  # every spec checked before any runs
    failures = 0
    for n, (recorded, spec_path) in enumerate(zip(document.traces, specs), start=1):
        loaded, outcome = replay_record(recorded, spec_path)
        steps = recorded["steps"]
        name = f"trace {n} ({loaded.spec.id} under {recorded['policy']}, {recorded['property']})"
        if outcome.ok and outcome.trace is not None:
            print(f"{name}: replays; {recorded['property']} violated at step {len(steps)}")
            if not args.quiet:
                print(text.trace_text(outcome.trace))
        else:
            failures += 1
            print(one_line(f"{name}: does not replay: {outcome.reason}"))
    return EXIT_DIFFERS if failures else EXIT_OK


def _reproduce(argv: Sequence[str]) -> int:
    """The C reproducers built and run on this kernel, against the model of its era (docs/reproducers.md)."""
    import platform

    from modelcheck import reproduce
    from modelcheck.faces import reproducers

    p = _Parser(prog="python -m modelcheck reproduce",
                description="Build the C reproducer of every scripted scenario's counterexample schedule (and, "
                            "unless --schedules-only, of each scenario run whole in program order), run each on "
                            "this kernel, and compare what it reports with the model under the policy of this "
                            "kernel's era (docs/reproducers.md). Exit status 1 if one disagrees.")
    p.add_argument("specs", nargs="*", help="spec files (default: every file in ./specs)")
    p.add_argument("--out", default="results/reproducers.md", metavar="FILE",
                   help="the Markdown table to write (default results/reproducers.md)")
    p.add_argument("--schedules-only", action="store_true", help="only the counterexample schedules")
    args = p.parse_args(argv)
    out = Path(args.out)
    if not out.parent.is_dir():
        raise UsageError(f"--out {args.out!r}: not a file in an existing directory")
    try:
        era = reproduce.era()

        def record_of(loaded: LoadedSpec, run: PolicyRun) -> dict[str, Any]:
            first: dict[str, Any] = export.trace_document(loaded, [run], out)["traces"][0]
            return first

        rows = []
        for row in reproduce.sweep(spec_files(args.specs), era, record_of, whole=not args.schedules_only):
            mark = {True: "agrees", False: "DISAGREES", None: "unsupported"}[row.agrees]
            print(f"{row.spec_id:10} {row.property:24} {row.schedule:40} model {row.model or '-':9} "
                  f"live {row.live.result:11} {mark}", file=sys.stderr)
            rows.append(row)
    except reproduce.ReproduceError as err:
        raise UsageError(str(err)) from None
    out.write_text(reproducers.markdown(rows, platform.release(), era, platform.machine()))
    disagree = [r for r in rows if r.agrees is False]
    print(f"{len(rows)} programs, {sum(1 for r in rows if r.agrees)} agree, {len(disagree)} disagree, "
          f"{sum(1 for r in rows if r.agrees is None)} unsupported; wrote {out}", file=sys.stderr)
    return EXIT_DIFFERS if disagree else EXIT_OK


def _policies(argv: Sequence[str]) -> int:
    p = _Parser(prog="python -m modelcheck policies",
                description="List the known policies, each with the commits (and proposals) it is made of.")
    p.add_argument("--markdown", action="store_true", help="print the README's policy table instead")
    args = p.parse_args(argv)
    entries = policy_catalogue()
    if args.markdown:
        print(_policy_table(entries), end="")
        return EXIT_OK
    release = platform.release()
    print(_policy_listing(entries), end="")
    print(f"\nthis machine runs Linux {release}: modelled by {era_policy(release) or 'no policy (not a release)'}")
    return EXIT_OK


def _policy_listing(entries: Sequence[Mapping[str, Any]], width: int = 100) -> str:
    """Per policy its release and rule, then its base and every piece in effect, in order: commit id (or a
    proposal's source and date), release, what it changes. '+' marks the pieces the policy adds to the one
    it builds on; a revert names what it takes out, and the piece it takes out is not listed."""
    keys = max((len(p["key"]) for e in entries for p in e["pieces"]), default=12)
    releases = max((len(p["release"]) for e in entries for p in e["pieces"] if p["merged"]), default=5)
    indent = " " * (4 + keys + 2 + releases + 2)

    def line(head: str, rest: str) -> str:
        return "\n".join(textwrap.wrap(rest, width, initial_indent=head.ljust(len(indent)), subsequent_indent=indent))

    out: list[str] = []
    for entry in entries:
        on = f"  (builds on {entry['builds_on']})" if entry["builds_on"] else ""
        out += [f"{entry['name']}  {entry['release']}{on}", f"  {entry['rule']}",
                f"  stands for {entry['stands_for']}", line("    base", entry["base"])]
        for p in entry["pieces"]:
            if p["reverted_by"]:
                continue
            release = p["release"] if p["merged"] else ""
            also = f" (with {', '.join(p['also'])})" if p["also"] else ""
            reverts = f"reverts {p['reverts']}: " if p["reverts"] else ""
            head = f"  {'+' if p['added'] else ' '} {p['key'].ljust(keys)}  {release}"
            out.append(line(head, reverts + p["changes"] + also))
        out.append("")
    return "\n".join(out).rstrip("\n") + "\n"


def _policy_table(entries: Sequence[Mapping[str, Any]]) -> str:
    """The README's policy table: policy, era, the commits it adds to the policy it builds on, its rule."""
    def cited(piece: Mapping[str, Any]) -> str:
        also = f" (with {', '.join(piece['also'])})" if piece["also"] else ""
        return piece["key"] + also + (f" (reverts {piece['reverts']})" if piece["reverts"] else "")

    rows = ["| policy | era | stands for | commits | rule |", "|---|---|---|---|---|"]
    for entry in entries:
        commits = ", ".join(cited(p) for p in entry["pieces"] if p["added"]) or "-"
        if entry["builds_on"]:
            commits = f"`{entry['builds_on']}` + {commits}"
        rows.append(f"| `{entry['name']}` | {entry['release']} | {entry['stands_for']} | {commits} | {entry['rule']} |")
    return "\n".join(rows) + "\n"


def _matrix(argv: Sequence[str]) -> int:
    from modelcheck.faces import matrix

    p = _Parser(prog="python -m modelcheck matrix",
                description="Run every spec (default: specs/*.py) under every policy and write "
                            "results/matrix.md and results/matrix.json.")
    p.add_argument("specs", nargs="*", help="spec files (default: every file in ./specs)")
    p.add_argument("--out-dir", default="results", help="where to write matrix.md and matrix.json")
    p.add_argument("--time-limit", type=float, metavar="SECONDS", help="per cell; a cell past it is incomplete")
    p.add_argument("--max-states", type=int, metavar="N", help="per cell")
    p.add_argument("--max-memory", type=_memory_size, metavar="SIZE",
                   help=f"per cell, as for a check (default: {int(SAFE_FRACTION * 100)}%% of the machine's memory)")
    p.add_argument("--quiet", action="store_true", help="no line per spec on stderr")
    args = p.parse_args(argv)
    try:
        options = SearchOptions(max_states=args.max_states, time_limit=args.time_limit,
                                max_memory=args.max_memory if args.max_memory is not None else default_limit())
    except ValueError as err:
        raise UsageError(str(err)) from None
    if not spec_files(args.specs):
        raise UsageError("no spec files given and none in ./specs")
    out_dir = Path(args.out_dir)
    if out_dir.exists() and not out_dir.is_dir():  # say so before the runs, not after them
        raise UsageError(f"{out_dir}: --out-dir is not a directory")
    rows = run_matrix(args.specs, options, quiet=args.quiet)
    command = "python -m modelcheck matrix" + (" " + " ".join(args.specs) if args.specs else "")
    try:
        md, js = matrix.write(rows, out_dir, command)
    except OSError as err:
        raise UsageError(f"{out_dir}: cannot write the matrix: {err.strerror}") from None
    runs = [run for row in rows for run in row.runs]
    differ = sum(1 for run in runs if run.as_expected is False)
    print(f"{len(rows)} scenarios x {len(matrix.policies_of(rows))} policies; "
          f"{differ} disagreement(s) with stated expectations; wrote {md} and {js}")
    if differ:
        return EXIT_DIFFERS
    if any(run.result.verdict is Verdict.INCOMPLETE for run in runs):
        return EXIT_INCOMPLETE
    return EXIT_OK


def _selftests(argv: Sequence[str]) -> int:
    """The kernel's COW selftests case by case, the specs that mirror each and their verdicts (docs/selftests.md)."""
    from modelcheck.faces import selftests as table
    from modelcheck.selftests import catalogue

    p = _Parser(prog="python -m modelcheck selftests",
                description="Hold every case of the kernel's COW selftests (cow.c, gup_longterm.c) against the "
                            "specs that mirror it (default: specs/*.py) under one policy, and write "
                            "results/selftests.md and results/selftests.json.")
    p.add_argument("specs", nargs="*", help="spec files (default: every file in ./specs)")
    p.add_argument("--policy", help="the policy whose verdicts are shown (default: the newest merged one)")
    p.add_argument("--out-dir", default="results", help="where to write selftests.md and selftests.json")
    args = p.parse_args(argv)
    entries = {entry["name"]: entry for entry in policy_catalogue()}
    policy = args.policy or newest_policy()
    if policy not in entries:
        raise UsageError(f"unknown policy {policy!r} (known: {', '.join(entries)})")
    paths = spec_files(args.specs)
    if not paths:
        raise UsageError("no spec files given and none in ./specs")
    out_dir = Path(args.out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise UsageError(f"{out_dir}: --out-dir is not a directory")
    options = SearchOptions(max_memory=default_limit())
    mirrors: dict[tuple[str, str, str], list[table.MirrorRun]] = {}
    for path in paths:
        spec = load_spec(path)
        if not spec.mirrors:
            continue
        loaded = prepare(bind(path, spec), options)
        if policy not in loaded.world.policy_names():
            raise SpecError(path, f"its world does not know policy {policy!r}")
        run = next(iter(run_spec(loaded, [policy], options)))
        for file, function, kind in spec.mirrors:
            mirrors.setdefault((file, function, kind), []).append(table.MirrorRun(spec.id, str(path), run.result.verdict.value))
    for runs in mirrors.values():
        runs.sort(key=lambda r: natural_order(r.spec))
    records = table.rows(catalogue(), mirrors)
    # what decides the table's content (not where it is written): the specs given and the policy chosen
    command = "python -m modelcheck selftests" + "".join(f" {a}" for a in args.specs) \
        + (f" --policy {args.policy}" if args.policy else "")
    try:
        md, js = table.write(catalogue(), records, policy, entries[policy]["stands_for"], out_dir, command,
                              newest=policy == newest_policy())
    except OSError as err:
        raise UsageError(f"{out_dir}: cannot write the table: {err.strerror}") from None
    covered = sum(1 for r in records if r["mirrored_by"])
    differ = sum(1 for r in records if r["agrees"] == table.DISAGREES)
    print(f"{covered} of {len(records)} selftest cases mirrored; {differ} disagreement(s) under {policy}; "
          f"wrote {md} and {js}")
    if differ:
        return EXIT_DIFFERS
    if any(r["agrees"] == table.UNKNOWN for r in records):
        return EXIT_INCOMPLETE
    return EXIT_OK


def _nightly(argv: Sequence[str]) -> int:
    """Bounded verification read the way kernel CI is read (docs/nightly.md)."""
    import time

    from modelcheck import nightly as plan
    from modelcheck.faces import nightly

    p = _Parser(prog="python -m modelcheck nightly",
                description="Check every spec (default: specs/*.py) under every policy at growing bounds (each "
                            "spec's ladder) within a time budget, and write a JSON record, a Markdown summary, "
                            "JUnit XML and TAP into --out, compared with a baseline record (docs/nightly.md).")
    p.add_argument("specs", nargs="*", help="spec files (default: every file in ./specs)")
    p.add_argument("--budget", type=_duration, default=1800.0, metavar="DURATION",
                   help="wall-clock time for the whole night: seconds, or with s, m or h (default 30m)")
    p.add_argument("--out", default="results/nightly", metavar="DIR",
                   help="where the night's files go (default results/nightly)")
    p.add_argument("--baseline", metavar="FILE",
                   help="the record to compare with (default: the latest record in --out, if any)")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--workers", type=int, metavar="N", help="run N cells at once on a local Dask cluster of N worker processes")
    where.add_argument("--scheduler", metavar="ADDRESS", help="run the cells on the Dask cluster at ADDRESS")
    p.add_argument("--quiet", action="store_true", help="no line per rung on stderr")
    args = p.parse_args(argv)
    if not 0 < args.budget <= 7 * 86400:
        raise UsageError(f"--budget must be above 0 and at most a week, not {args.budget:g} s")
    if args.workers is not None:
        try:
            SearchOptions(workers=args.workers)  # the machine's bound on worker processes
        except ValueError as err:
            raise UsageError(f"--workers: {err}") from None
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"{out}: --out is not a directory")
    baseline_path = Path(args.baseline) if args.baseline else out / "latest.json"
    baseline = None
    if args.baseline or baseline_path.exists():
        try:
            baseline = nightly.read_record(baseline_path)
        except ValueError as err:
            raise UsageError(str(err)) from None
    if not spec_files(args.specs):
        raise UsageError("no spec files given and none in ./specs")
    cells = plan.plan(args.specs)
    try:
        executor, completed, slots, close = plan.executor_for(args.workers, args.scheduler)
    except ValueError as err:
        raise UsageError(str(err)) from None

    def said(climb: plan.Climb, attempt: dict[str, Any]) -> None:
        if not args.quiet:
            cell = climb.cell
            print(f"{cell.spec_id:>9} {cell.policy:<28} rung {len(climb.attempts)}/{len(cell.rungs)} "
                  f"{nightly.bound_text(attempt['params']):<12} {attempt['verdict']:<10} "
                  f"{attempt.get('states') or 0:>11,} st {attempt.get('seconds') or 0:8.2f} s", file=sys.stderr)

    started, clock = nightly.now(), time.monotonic()
    options = {"trace_file": str(out / "traces" / "trace.json"), "max_memory": default_limit() // slots}
    try:
        climbs = plan.climb(cells, args.budget, executor, nightly.run_cell, options, slots, completed,
                            progress=said)
    finally:
        close()
    command = " ".join(["python -m modelcheck nightly", *argv])
    tonight = nightly.record(climbs, args.budget, command, nightly.executor_name(args.workers, args.scheduler),
                             started, time.monotonic() - clock)
    changes = nightly.compare(tonight, baseline, str(baseline_path) if baseline is not None else None)
    try:
        files = nightly.write(out, tonight, climbs, changes)
    except OSError as err:
        raise UsageError(f"{out}: cannot write the night's files: {err.strerror or err}") from None
    status = nightly.exit_status(tonight, changes)
    print("\n".join(line for line in nightly.headline(tonight, changes) if line), file=sys.stderr)
    print(f"wrote {', '.join(str(f) for f in files)}", file=sys.stderr)
    return status


COMMANDS = {"replay": _replay, "export": _export, "policies": _policies, "matrix": _matrix, "nightly": _nightly,
            "reproduce": _reproduce, "selftests": _selftests}
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Interrupts:
    """Ctrl-C, SIGTERM and SIGHUP all end a run as Ctrl-C does: what was explored is printed, exit status 3.

    While a search that saves checkpoints runs (``deferred``), the first of
    them only asks it to stop where it can save one (the search looks at
    ``requested``); a second one stops at once.
    """

    def __init__(self) -> None:
        self.deferred = False
        self.requested = False

    def __call__(self, signum: int, frame: Any) -> None:
        if self.deferred and not self.requested:
            self.requested = True
            return
        raise KeyboardInterrupt

    def install(self) -> dict[int, Any]:
        """Handle the stop signals here (from the main thread only); returns the handlers replaced."""
        if threading.current_thread() is not threading.main_thread():
            return {}
        return {number: signal.signal(number, self) for number in STOP_SIGNALS}


class _ReaderMayLeave(io.TextIOBase):
    """Standard output for a reader that may stop reading (``| head``): once the pipe breaks, the rest of the
    output goes nowhere and the command goes on to the exit status its verdicts earn."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self.left = False

    def write(self, text: str) -> int:
        if not self.left:
            try:
                return self._stream.write(text)
            except BrokenPipeError:
                self._leave()
        return len(text)

    def flush(self) -> None:
        if not self.left:
            try:
                self._stream.flush()
            except BrokenPipeError:
                self._leave()

    def isatty(self) -> bool:
        return self._stream.isatty()

    def _leave(self) -> None:
        self.left = True
        try:  # what is still buffered, and the interpreter's last flush, then find somewhere to go
            os.dup2(os.open(os.devnull, os.O_WRONLY), self._stream.fileno())
        except (OSError, ValueError, io.UnsupportedOperation):
            pass


def main(argv: Sequence[str] | None = None) -> int:
    stdout = sys.stdout
    sys.stdout = _ReaderMayLeave(stdout)
    try:
        code = _main(argv)
        sys.stdout.flush()
        return code
    finally:
        sys.stdout = stdout


def _main(argv: Sequence[str] | None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = COMMANDS.get(argv[0]) if argv else None
    interrupts = Interrupts()
    replaced = interrupts.install()
    try:
        return command(argv[1:]) if command else _check(argv, interrupts)
    except (UsageError, SpecError, ClusterUnavailable) as err:
        print(f"modelcheck: {one_line(str(err))}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("modelcheck: interrupted", file=sys.stderr)
        return EXIT_INCOMPLETE
    except WorkerFailed as err:  # e.g. a worker process killed for want of memory; the first line says why
        print(f"modelcheck: {str(err).splitlines()[0]}", file=sys.stderr)
        return EXIT_INCOMPLETE
    except EnginesDisagree as err:
        print(f"modelcheck: the two engines disagree (a bounded model checking run does not replay): {err}",
              file=sys.stderr)
        return EXIT_DIFFERS
    finally:
        for number, handler in replaced.items():
            signal.signal(number, handler)
