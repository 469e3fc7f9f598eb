"""A spec: what to check, declared in a short Python file.

A spec file defines ``SPEC = Spec(...)``: an id and a title, a ``world``
factory that takes the spec's parameters as keywords and returns a world, the
policies to check (all the world knows when omitted), the invariants, and the
expected verdict per policy where history says it.

    SPEC = Spec(
        id="C3",
        title="vmsplice() + unmap in the child (CVE-2020-29374)",
        world=lambda P, M: CowWorld(processes=P, addresses=M),
        params={"P": 2, "M": 1},
        invariants=["no_leak_to_child"],
        expect={"mapcount": "violated", "page_count": "holds"},
    )

A world is any object with ``policy_names()``, ``invariant_names()``,
``describe()``, ``model(policy, invariants)`` and named variants of itself
(``variants()``, ``variant(name)``); the spec does not know what is inside it.
"""

from __future__ import annotations

import hashlib
import runpy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Protocol, Sequence, runtime_checkable

VERDICTS = ("holds", "violated")


class SpecError(Exception):
    """A user's mistake in a spec, a parameter or a file: one line, exit status 2."""

    def __init__(self, where: str | Path, message: str) -> None:
        super().__init__(f"{where}: {message}")
        self.where = str(where)
        self.message = message


class World(Protocol):
    def policy_names(self) -> list[str]: ...

    def invariant_names(self) -> list[str]: ...

    def describe(self) -> str: ...

    def model(self, policy: str, invariants: Sequence[str]) -> Any: ...

    def variants(self) -> list[str]:
        """The names of the variants of this world (e.g. "symbolic") it can build."""
        ...

    def variant(self, name: str) -> "World | None":
        """This world as its variant ``name``, or None when it has none of that name."""
        ...


WORLD_METHODS = ("policy_names", "invariant_names", "describe", "model", "variants", "variant")  # of ``World``


@runtime_checkable
class NamesCoverage(Protocol):
    """A world that can say every coverage item a run of it could report (what ``covers`` may name)."""

    def coverage_names(self) -> Sequence[str]: ...


@runtime_checkable
class RequiresCoverage(Protocol):
    """A world that knows what a run of it must fire to have tested anything (a scripted world: that every
    thread finished its program); a complete run that misses one is vacuous, whatever the spec says."""

    def required_coverage(self) -> Sequence[str]: ...


@runtime_checkable
class HasSettings(Protocol):
    """A world with settings a trace must carry to be reproduced outside the model (the COW world's kernel
    configuration, which a C reproducer checks the running kernel has)."""

    def settings(self) -> Mapping[str, Any]: ...


def world_settings(world: object) -> dict[str, Any]:
    """The world's ``settings``, or none."""
    return dict(world.settings()) if isinstance(world, HasSettings) else {}


@dataclass(frozen=True)
class Spec:
    id: str
    title: str
    world: Callable[..., World]
    invariants: Sequence[str]
    params: Mapping[str, Any] = field(default_factory=dict)
    policies: Sequence[str] | None = None
    expect: Mapping[str, str] = field(default_factory=dict)
    covers: Sequence[str] = ()  # coverage items (actions, policy branches) every complete run must fire
    excused: Sequence[str] = ()  # items the world requires (e.g. "end:child1") that this spec does not
    notes: str = ""
    # the kernel selftest cases this scenario mirrors, each (file, test function, memory kind) of the catalogue
    # (``modelcheck.selftests``), e.g. ("cow.c", "test_vmsplice_in_child", "base-page")
    mirrors: Sequence[tuple[str, str, str]] = ()
    # the nightly run's bound ladder: parameter overrides, easiest first, each over ``params``; its first rung
    # is ``params`` itself ({} says so); None: one rung, the spec's parameters (``rungs``)
    ladder: Sequence[Mapping[str, Any]] | None = None

    def __post_init__(self) -> None:
        """Refuse what a spec file cannot mean, in its own words (a string where names are expected would
        otherwise be read one letter at a time)."""
        if not isinstance(self.id, str) or not self.id.strip():
            raise ValueError(f"a spec needs an id (a short name such as 'C3'), not {self.id!r}")
        if not isinstance(self.title, str):
            raise ValueError(f"title must be a string, not a {type(self.title).__name__}")
        if not isinstance(self.notes, str):
            raise ValueError(f"notes must be a string, not a {type(self.notes).__name__}")
        if not callable(self.world):
            raise ValueError("world must be a function of the spec's parameters that returns a world")
        _names("invariants", self.invariants, "invariant")
        if not self.invariants:
            raise ValueError("a spec needs at least one invariant")
        if self.policies is not None:
            _names("policies", self.policies, "policy")
            if not self.policies:  # it would mean every policy, as if omitted
                raise ValueError("policies, when given, names at least one policy (omit it to check them all)")
        _names("covers", self.covers, "coverage item")
        _names("excused", self.excused, "coverage item")
        if not isinstance(self.params, Mapping):
            raise ValueError(f"params must be a mapping of parameter names to values, not a "
                             f"{type(self.params).__name__}")
        for name, value in self.params.items():
            if not isinstance(name, str) or not name.isidentifier():
                raise ValueError(f"params: {name!r} is not a parameter name (a Python identifier)")
            if not isinstance(value, (bool, int, str)):
                raise ValueError(f"params: {name} must default to a whole number, true/false or a string, "
                                 f"not a {type(value).__name__}")
        if not isinstance(self.expect, Mapping):
            raise ValueError(f"expect must be a mapping of policy names to verdicts, not a "
                             f"{type(self.expect).__name__}")
        for policy, verdict in self.expect.items():
            if not isinstance(policy, str):
                raise ValueError(f"expect: {policy!r} is not a policy name")
            if verdict not in VERDICTS:
                raise ValueError(f"expected verdict for {policy!r} must be one of {', '.join(VERDICTS)}, "
                                 f"not {verdict!r}")
        if self.ladder is not None:
            self._check_ladder(self.ladder)
        self._check_mirrors(self.mirrors)

    def _check_mirrors(self, mirrors: Any) -> None:
        """Each mirror names a case of the selftest catalogue, once."""
        from modelcheck.selftests import unknown_mirror

        if isinstance(mirrors, (str, bytes)) or not isinstance(mirrors, (list, tuple)):
            raise ValueError(f"mirrors must be a list of (file, test function, memory kind) triples, not a "
                             f"{type(mirrors).__name__}")
        for mirror in mirrors:
            why = unknown_mirror(mirror)
            if why is not None:
                raise ValueError(f"mirrors: {why}")
        if len({tuple(m) for m in mirrors}) != len(mirrors):
            raise ValueError("mirrors names a case twice")

    def _check_ladder(self, ladder: Any) -> None:
        """Each rung names the spec's parameters only, with values of their kind; the first rung is the spec's
        parameters (a nightly run starts where a plain run checks) and no rung comes twice, so the ladder
        only climbs from what the spec already states."""
        if isinstance(ladder, (str, bytes, Mapping)) or not isinstance(ladder, (list, tuple)):
            raise ValueError(f"ladder must be a list of parameter overrides (one mapping a rung), not a "
                             f"{type(ladder).__name__}")
        if not ladder:
            raise ValueError("ladder, when given, has at least one rung (omit it for the spec's parameters alone)")
        seen: list[dict[str, Any]] = []
        for n, rung in enumerate(ladder, start=1):
            if not isinstance(rung, Mapping):
                raise ValueError(f"ladder rung {n} must be a mapping of parameter names to values, not a "
                                 f"{type(rung).__name__}")
            for name, value in rung.items():
                if name not in self.params:
                    known = ", ".join(map(str, self.params)) or "none"
                    raise ValueError(f"ladder rung {n} names {name!r}, which is not a parameter of this spec "
                                     f"(its parameters: {known})")
                default = self.params[name]
                if type(value) is not type(default):
                    raise ValueError(f"ladder rung {n}: {name} must be a {type(default).__name__} like its "
                                     f"default {default!r}, not {value!r}")
            full = {**self.params, **rung}
            if n == 1 and full != dict(self.params):
                raise ValueError("ladder rung 1 must be the spec's parameters (write {} for them), not "
                                 + " ".join(f"{k}={v}" for k, v in rung.items()))
            if full in seen:
                raise ValueError(f"ladder rung {n} repeats rung {seen.index(full) + 1}")
            seen.append(full)

    def rungs(self) -> list[dict[str, Any]]:
        """The bound ladder as whole parameter sets, easiest first: the declared ``ladder`` over ``params``,
        or the spec's parameters alone when it declares none."""
        return [{**self.params, **rung} for rung in (self.ladder or [{}])]

    def expected(self, policy: str) -> str | None:
        """The verdict expected of ``policy``, or None when it is unknown.

        A spec that states no expectation at all expects every policy to hold;
        a spec that states some leaves the others unknown (history is silent
        or only inferred there), and their verdicts never fail a run.
        """
        if not self.expect:
            return "holds"
        return self.expect.get(policy)


def _names(field_name: str, value: Any, what: str) -> None:
    """A list of names: not a string (whose letters would pass for names), each element a string."""
    if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
        raise ValueError(f"{field_name} must be a list of {what} names, not a {type(value).__name__}"
                         + (f" ({value!r}: write [{value!r}])" if isinstance(value, str) else ""))
    for item in value:
        if not isinstance(item, str):
            raise ValueError(f"{field_name} must be a list of {what} names; {item!r} is a {type(item).__name__}")


@dataclass(frozen=True)
class LoadedSpec:
    """A spec, the file it came from, and its world built for one choice of parameters."""

    path: str
    spec: Spec
    params: dict[str, Any]
    world: World
    variants: tuple[str, ...] = ()  # the variants of the spec's world applied, in order
    sha256: str | None = None       # of the spec file's content when it was bound (a trace records it)

    def required_coverage(self) -> tuple[str, ...]:
        """What every complete run must fire: what the spec ``covers``, and what its world requires of any run
        (every scripted thread's end) unless the spec ``excused`` it."""
        required = list(self.world.required_coverage()) if isinstance(self.world, RequiresCoverage) else []
        wanted = [*self.spec.covers, *(item for item in required if item not in self.spec.excused)]
        return tuple(dict.fromkeys(wanted))

    def policies(self, chosen: Sequence[str] | None = None) -> list[str]:
        """The policies to run: those chosen on the command line, else the spec's, else all."""
        known = self.world.policy_names()
        wanted = list(chosen or self.spec.policies or known)
        for name in wanted:
            if name not in known:
                raise SpecError(self.path, f"unknown policy {name!r} (known: {', '.join(known)})")
        for name in self.spec.expect:
            if name not in known:
                raise SpecError(self.path, f"expect names unknown policy {name!r} (known: {', '.join(known)})")
        return list(dict.fromkeys(wanted))


def load_spec(path: str | Path) -> Spec:
    """Run a spec file and return its ``SPEC``; every failure is a ``SpecError``."""
    path = Path(path)
    if not path.exists():
        raise SpecError(path, "no such spec file")
    if not path.is_file():
        raise SpecError(path, "not a file")
    try:
        namespace = runpy.run_path(str(path))
    except SyntaxError as err:
        raise SpecError(path, f"syntax error at line {err.lineno}: {err.msg}") from None
    except Exception as err:  # the spec's own code failed: say where, without a traceback
        raise SpecError(path, f"the spec raised {type(err).__name__}: {err}{_line_of(err, path)}") from None
    except SystemExit as err:  # sys.exit() in a spec would end modelcheck silently, with the spec's status
        raise SpecError(path, f"the spec called sys.exit({err.code!r}){_line_of(err, path)}: a spec file "
                              "must define SPEC, not end the program") from None
    spec = namespace.get("SPEC")
    if spec is None:
        raise SpecError(path, "defines no SPEC (a spec file must set SPEC = Spec(...))")
    if not isinstance(spec, Spec):
        raise SpecError(path, f"SPEC is a {type(spec).__name__}, not a modelcheck Spec")
    return spec


def spec_sha256(path: str | Path) -> str:
    """The sha256 of a spec file's bytes, in hex: a trace file records it, so that replay knows the spec it
    runs is the one the trace was found in."""
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except FileNotFoundError:
        raise SpecError(path, "no such spec file") from None
    except OSError as err:
        raise SpecError(path, f"cannot be read: {err.strerror}") from None


def _line_of(err: BaseException, path: str | Path) -> str:
    tb = err.__traceback__
    line = None
    while tb is not None:
        if Path(tb.tb_frame.f_code.co_filename).resolve() == Path(path).resolve():
            line = tb.tb_lineno
        tb = tb.tb_next
    return f" (line {line})" if line else ""


def parse_param(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name.strip() or not value.strip():
        raise ValueError(f"--param takes NAME=VALUE, not {text!r}")
    return name.strip(), value.strip()


def bind(path: str | Path, spec: Spec, overrides: Sequence[str] = ()) -> LoadedSpec:
    """Apply ``--param NAME=VALUE`` overrides to the spec's parameters and build its world."""
    params = dict(spec.params)
    for text in overrides:
        try:
            name, raw = parse_param(text)
        except ValueError as err:
            raise SpecError(path, str(err)) from None
        if name not in params:
            known = ", ".join(params) or "none"
            raise SpecError(path, f"unknown parameter {name!r} (this spec's parameters: {known})")
        params[name] = _convert(path, name, raw, params[name])
    try:
        world = spec.world(**params)
    except (ValueError, TypeError) as err:  # the world refuses its bounds or its scenario
        shown = " ".join(f"{k}={v}" for k, v in params.items())
        raise SpecError(path, f"bad parameters {shown}: {err}" if shown else str(err)) from None
    except Exception as err:  # the spec's world function itself failed
        raise SpecError(path, f"the spec's world function raised {type(err).__name__}: {err}"
                              f"{_line_of(err, path)}") from None
    missing = [name for name in WORLD_METHODS if not callable(getattr(world, name, None))]
    if missing:
        raise SpecError(path, f"the spec's world function returned a {type(world).__name__}, not a world "
                              f"(it lacks {', '.join(missing)})")
    if spec.covers and isinstance(world, NamesCoverage):
        reported = list(world.coverage_names())
        unknown = [item for item in spec.covers if item not in reported]
        if unknown:
            raise SpecError(path, f"covers names {', '.join(map(repr, unknown))}, which no run of this world "
                                  f"reports (it can report: {', '.join(reported)})")
    if spec.excused:
        required = list(world.required_coverage()) if isinstance(world, RequiresCoverage) else []
        unknown = [item for item in spec.excused if item not in required]
        if unknown:
            raise SpecError(path, f"excused names {', '.join(map(repr, unknown))}, which this world does not "
                                  f"require (it requires: {', '.join(required) or 'nothing'})")
    return LoadedSpec(path=str(path), spec=spec, params=params, world=world, sha256=spec_sha256(path))


def _convert(path: str | Path, name: str, raw: str, default: Any) -> Any:
    if isinstance(default, bool):
        if raw.lower() in ("1", "true", "yes", "on"):
            return True
        if raw.lower() in ("0", "false", "no", "off"):
            return False
        raise SpecError(path, f"parameter {name} takes true or false, not {raw!r}")
    if isinstance(default, int):
        try:
            return int(raw)
        except ValueError:
            raise SpecError(path, f"parameter {name} takes a whole number, not {raw!r}") from None
    return raw
