"""A counterexample as a scripted scenario: the spec file that re-runs a trace.

A trace's steps are labelled in this world's vocabulary: a scripted world's
``THREAD OPERATION`` (``parent pin_rw a0 -> buf``), an open world's
``PROCESS ACTION(aN)`` (``child1 vmsplice(a0)``), the kernel's ``kernel
EVENT(page N)``. ``reproduce`` reads them back: each thread's (or open-world
process's) steps become its program, the kernel's steps the scenario's events,
and the order of all of them the scenario's ``schedule``, so that a run of the
spec written (``Reproduction.source``) follows the trace's very interleaving and
its shortest counterexample is the trace.

An open world's action becomes the operation of the same mechanism: ``write``
is ``store``, ``read`` is ``load``, ``munmap``, ``vmsplice``, ``pipe_read`` and
``fork`` keep their names. Their effects are the same; a scripted world tells
each write operation's value apart where the open world tells only the writer
and its forks, which every invariant reads alike.

A trace found with symbolic references, or one whose references held outside
the scenario z3 counted, has steps no explicit scenario can say: those are
refused (``ReproduceError``), as is a label this world never writes.
"""

from __future__ import annotations

import json
import re
import textwrap
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from modelcheck.cow.config import FULL_KERNEL, KernelConfig
from modelcheck.cow.scenario import EVENT_OF, EVENTS
from modelcheck.cow.world import CowWorld

# an open world's actions, by the scripted operation that runs the same mechanism
OPEN_TO_SCRIPTED = {"write": "store", "read": "load", "munmap": "munmap", "vmsplice": "vmsplice",
                    "pipe_read": "pipe_read", "fork": "fork"}
_OPEN_ACTION = re.compile(r"^([a-z_]+)\((?:a(0|[1-9][0-9]*))?\)$")
_KERNEL_ACTION = re.compile(r"^([a-z_]+)\(page (0|[1-9][0-9]*)\)$")
KERNEL = "kernel"


class ReproduceError(ValueError):
    """A trace no scripted scenario re-runs (symbolic references, a parameter z3 chose, a foreign label)."""


@dataclass(frozen=True)
class Reproduction:
    """A trace as a scenario: the programs, events and schedule that re-run it, and where it came from."""

    spec_id: str
    title: str
    spec_file: str
    params: tuple[tuple[str, Any], ...]
    policy: str
    property: str
    explanation: str
    search: str
    open_world: bool
    programs: tuple[tuple[str, tuple[str, ...]], ...]  # thread -> its operations, in the order they first act
    events: tuple[str, ...]
    speculative: int
    addresses: int | None   # given only where the programs use fewer addresses than the trace's world had
    tlb: bool
    schedule: tuple[str, ...]
    labels: tuple[str, ...]  # the trace's steps, as the scenario labels them
    config: KernelConfig = FULL_KERNEL  # the kernel configuration the trace's world had
    fresh: tuple[str, ...] = ()  # the addresses that start untouched
    file: str = ""  # the file the world maps, and where (file mappings)
    maps: tuple[tuple[str, str], ...] = ()
    cpus: tuple[tuple[str, int], ...] = ()  # threads pinned to a CPU other than 0

    def world(self) -> CowWorld:
        """The scripted world the spec file builds."""
        return CowWorld.scripted(dict(self.programs), events=list(self.events), speculative=self.speculative,
                                 addresses=self.addresses, tlb=self.tlb, schedule=list(self.schedule),
                                 config=self.config, fresh=list(self.fresh), file=self.file,
                                 maps=dict(self.maps) if self.maps else None,
                                 cpus={name: cpu for name, cpu in self.cpus if name in dict(self.programs)})

    def source(self) -> str:
        """The spec file: a docstring that says where the scenario came from, and the ``SPEC``."""
        return _docstring(self) + "\n\n" + _spec_code(self)


def reproduce(record: Mapping[str, Any]) -> Reproduction:
    """The scenario that re-runs trace ``record`` (a ``modelcheck.trace/3`` record: docs/json.md)."""
    initial = record.get("initial_state")
    initial = initial if isinstance(initial, Mapping) else {}
    _refuse_what_no_scenario_states(record, initial)
    steps = record.get("steps")
    if not isinstance(steps, list) or not steps:
        raise ReproduceError("the trace has no steps")
    programs: dict[str, list[str]] = {}
    pending: dict[str, str] = {}  # a thread's operation the kernel split, whose next step continues it
    events: set[str] = set()
    schedule: list[str] = []
    labels: list[str] = []
    speculative = outstanding = 0
    open_world: bool | None = None
    previous_pc: Any = initial.get("pc", {})
    for n, step in enumerate(steps, 1):
        step = step if isinstance(step, Mapping) else {}
        label = str(step.get("label", ""))
        actor, action = _actor_and_action(step, label)
        if not action:
            raise ReproduceError(f"step {n} {label!r} names no action")
        if actor == KERNEL:
            kind = _kernel_event(n, label, action)
            events.add(EVENT_OF[kind])
            outstanding += {"spec_get": 1, "spec_put": -1}.get(kind, 0)
            speculative = max(speculative, outstanding)
            schedule.append(label)
            labels.append(label)
            continue
        is_open = _OPEN_ACTION.match(action) is not None
        if open_world is not None and open_world != is_open:
            raise ReproduceError(f"step {n} {label!r} mixes an open world's actions with a scenario's operations")
        open_world = is_open
        operation = _scripted_operation(n, label, action) if is_open else action
        if pending.get(actor) not in (None, operation):
            raise ReproduceError(f"step {n} {label!r}: {actor} is still in the middle of {pending[actor]!r}")
        if actor not in pending:
            programs.setdefault(actor, []).append(operation)
        pc = step.get("state", {}).get("pc") if isinstance(step.get("state"), Mapping) else None
        if isinstance(pc, Mapping) and isinstance(previous_pc, Mapping) and actor in pc \
                and pc[actor] == previous_pc.get(actor):
            pending[actor] = operation  # the step left the thread mid-operation (its pc did not move)
        else:
            pending.pop(actor, None)
        previous_pc = pc if isinstance(pc, Mapping) else previous_pc
        schedule.append(actor)
        labels.append(f"{actor} {operation}")
    if "parent" not in programs:
        raise ReproduceError("the parent takes no step in the trace, and a scenario needs a parent thread")
    if any(_in_lru_batch(state) for state in [initial] + [step.get("state") for step in steps
                                                             if isinstance(step, Mapping)]):
        events.add("lru")  # the world's fresh pages start in an LRU batch
    used, world_addresses = _addresses_used(programs), _addresses_of(initial)
    return Reproduction(
        spec_id=str(record.get("spec_id", "")), title=str(record.get("title", "")),
        spec_file=str(record.get("spec_as_given") or record.get("spec") or ""),
        params=tuple((str(k), v) for k, v in dict(record.get("params", {})).items()),
        policy=str(record["policy"]), property=str(record["property"]),
        explanation=str(record.get("explanation", "")), search=str(record.get("search", "")),
        open_world=bool(open_world), programs=tuple((name, tuple(ops)) for name, ops in programs.items()),
        events=tuple(e for e in EVENTS if e in events), speculative=speculative if "spec" in events else 0,
        addresses=world_addresses if world_addresses is not None and world_addresses > used else None,
        tlb="tlb" in initial, schedule=tuple(schedule), labels=tuple(labels), config=_kernel_config(record),
        fresh=_fresh(record), cpus=_cpus(record), **_file_mappings(record))


def _cpus(record: Mapping[str, Any]) -> tuple[tuple[str, int], ...]:
    """The threads the trace's world pins to a CPU other than 0 (none for traces that name none)."""
    settings = record.get("world_settings")
    cpus = settings.get("cpus") if isinstance(settings, Mapping) else None
    if cpus is None:
        return ()
    if not isinstance(cpus, Mapping) or not all(isinstance(n, str) and isinstance(c, int) for n, c in cpus.items()):
        raise ReproduceError(f"the trace's cpus must map thread names to CPU numbers, not {cpus!r}")
    return tuple(sorted(cpus.items()))


def _kernel_config(record: Mapping[str, Any]) -> KernelConfig:
    """The kernel configuration the trace records (the full kernel where it records none)."""
    settings = record.get("world_settings")
    settings = settings if isinstance(settings, Mapping) else {}
    try:
        return KernelConfig.from_json(settings.get("kernel_config") or {})
    except (ValueError, TypeError) as err:
        raise ReproduceError(f"the trace's kernel configuration: {err}") from None


def _fresh(record: Mapping[str, Any]) -> tuple[str, ...]:
    """The addresses the trace's world starts untouched (none for traces that name none)."""
    settings = record.get("world_settings")
    fresh = settings.get("fresh") if isinstance(settings, Mapping) else None
    if fresh is None:
        return ()
    if not isinstance(fresh, list) or not all(isinstance(a, str) for a in fresh):
        raise ReproduceError(f"the trace's fresh addresses must be a list of addresses, not {fresh!r}")
    return tuple(fresh)


def _file_mappings(record: Mapping[str, Any]) -> dict[str, Any]:
    """The file the trace's world maps and its mappings (``world_settings``' ``file`` and ``maps``), if any."""
    settings = record.get("world_settings")
    settings = settings if isinstance(settings, Mapping) else {}
    file, maps = settings.get("file", ""), settings.get("maps")
    if maps is None and not file:
        return {}
    if not isinstance(file, str) or not isinstance(maps, Mapping) or not all(
            isinstance(a, str) and isinstance(how, str) for a, how in maps.items()):
        raise ReproduceError(f"the trace's file mappings must be a file kind and a map of addresses to 'private' "
                             f"or 'shared', not {file!r} and {maps!r}")
    return {"file": file, "maps": tuple(sorted(maps.items()))}


def _refuse_what_no_scenario_states(record: Mapping[str, Any], initial: Mapping[str, Any]) -> None:
    """Symbolic references, a count z3 chose, references held outside: a scenario has none of them."""
    variants = [str(v) for v in record.get("variants", ())]
    if "symbolic" in variants:
        raise ReproduceError("the trace was found with symbolic references (--symbolic-refs): its steps stand for "
                             "any number of unknown references, which a scenario cannot state; replay it on its "
                             "spec, or export a trace of the explicit world")
    if variants or record.get("parameters"):
        raise ReproduceError("the trace has references held outside the scenario in a number the bounded model "
                             "checker chose (" + (", ".join(variants) or "parameters") + "): a scenario has no "
                             "such references")
    pages = initial.get("pages")
    if initial.get("held_outside") or (isinstance(pages, Mapping) and any(
            isinstance(page, Mapping) and page.get("spec") for page in pages.values())):
        raise ReproduceError("the trace's world holds references outside the scenario (in a number z3 "
                             "found, or fixed by the world), which a scenario cannot state")


def _kernel_event(n: int, label: str, action: str) -> str:
    """The kind of kernel event a step's action names (``spec_get(page 0)``)."""
    m = _KERNEL_ACTION.match(action)
    if m is None or m.group(1) not in EVENT_OF:
        raise ReproduceError(f"step {n} {label!r} is no kernel event of this world (known: {', '.join(EVENT_OF)})")
    return m.group(1)


def _scripted_operation(n: int, label: str, action: str) -> str:
    """An open world's action (``write(a0)``) as the scripted operation of the same mechanism (``store a0``)."""
    m = _OPEN_ACTION.match(action)
    assert m is not None
    kind, addr = m.group(1), m.group(2)
    if kind not in OPEN_TO_SCRIPTED:
        raise ReproduceError(f"step {n} {label!r}: {kind} is no action of the open world "
                             f"(known: {', '.join(OPEN_TO_SCRIPTED)})")
    return OPEN_TO_SCRIPTED[kind] + (f" a{addr}" if addr is not None else "")


def _actor_and_action(step: Any, label: str) -> tuple[str, str]:
    """Who acted (the step's recorded actor, else the label's first word) and what they did."""
    actor = step.get("actor") if isinstance(step, Mapping) else None
    if isinstance(actor, str) and actor and label.startswith(actor + " "):
        return actor, label[len(actor) + 1:]
    head, _, rest = label.partition(" ")
    return head, rest


def _in_lru_batch(state: Any) -> bool:
    pages = state.get("pages") if isinstance(state, Mapping) else None
    return isinstance(pages, Mapping) and any(isinstance(page, Mapping) and page.get("lru_batch")
                                              for page in pages.values())


def _addresses_used(programs: Mapping[str, Sequence[str]]) -> int:
    found = [int(m.group(1)) for ops in programs.values() for op in ops for m in re.finditer(r"\ba(\d+)", op)]
    return max(found, default=0) + 1


def _addresses_of(initial: Mapping[str, Any]) -> int | None:
    """How many addresses the trace's world had: the parent's PTEs at the start."""
    parent = initial.get("processes", {}).get("parent") if isinstance(initial.get("processes"), Mapping) else None
    ptes = parent.get("pte") if isinstance(parent, Mapping) else None
    return len(ptes) if isinstance(ptes, Mapping) and ptes else None


# -- the spec file ---------------------------------------------------------------------------------------------

def _literal(text: str) -> str:
    """A Python string literal on one line (double-quoted, as the specs write them)."""
    return json.dumps(" ".join(text.split()) if "\n" in text else text, ensure_ascii=False)


def _docstring_text(text: str) -> str:
    """``text`` on one line, safe inside a triple-quoted docstring."""
    return " ".join(text.split()).replace("\\", "\\\\").replace('"""', '\\"\\"\\"')


def _docstring(r: Reproduction) -> str:
    def para(text: str) -> list[str]:
        return textwrap.wrap(_docstring_text(text), width=100, break_long_words=False, break_on_hyphens=False)

    origin = r.spec_file or "a spec"
    params = " ".join(f"{name}={value}" for name, value in r.params)
    found = f"{origin} ({r.spec_id}" + (f", {r.title}" if r.title else "") + (f"; {params}" if params else "") + ")"
    world = ("The open world's actions became each process's program (write is store, read is load); "
             if r.open_world else "Each thread's steps became its program; ")
    lines = para(f"{r.spec_id} under {r.policy}: {r.property} violated, the counterexample as a scenario.")
    lines += [""] + para(f"Exported from the counterexample that {r.search or 'a'} search found in {found} under "
                         f"{r.policy}. {world}the kernel's steps are the scenario's events, and the schedule pins the "
                         f"trace's interleaving, so the shortest counterexample of this spec is the trace, step for "
                         f"step:")
    lines.append("")
    lines += [f"    {n}. {_docstring_text(label)}" for n, label in enumerate(r.labels, 1)]
    if r.explanation:
        lines += [""] + para(f"=> {r.explanation}")
    lines += [""] + para(f"Re-run it with: python -m modelcheck THIS_FILE --policy {r.policy}")
    body = "\n".join(line.rstrip() for line in lines)
    return f'"""{body}\n"""'


def _spec_code(r: Reproduction) -> str:
    programs = "\n".join(f"        {_literal(name)}: [{', '.join(_literal(op) for op in ops)}],"
                         for name, ops in r.programs)
    options = []
    if r.events:
        options.append(f"events=[{', '.join(_literal(e) for e in r.events)}]")
    if r.speculative > 1:
        options.append(f"speculative={r.speculative}")
    if r.addresses is not None:
        options.append(f"addresses={r.addresses}")
    if r.tlb:
        options.append("tlb=True")
    if r.config != FULL_KERNEL:
        options.append(f"config={r.config.source()}")
    if r.fresh:
        options.append(f"fresh=[{', '.join(_literal(a) for a in r.fresh)}]")
    if r.maps:
        options.append(f"file={_literal(r.file)}, maps={{{', '.join(f'{_literal(a)}: {_literal(how)}' for a, how in r.maps)}}}")
    pinned = [(name, cpu) for name, cpu in r.cpus if name in dict(r.programs)]
    if pinned:
        options.append("cpus={" + ", ".join(f"{_literal(name)}: {cpu}" for name, cpu in pinned) + "}")
    head = "    }, " + ", ".join(options) + (", " if options else "")
    schedule = _wrapped_list([_literal(entry) for entry in r.schedule], head + "schedule=", indent=len(head) + 10)
    title = f"{r.spec_id} under {r.policy}, the counterexample" + (f" ({r.title})" if r.title else "")
    return (
        "from modelcheck import Spec\n"
        f"from modelcheck.cow import {'CowWorld' if r.config == FULL_KERNEL else 'CowWorld, KernelConfig'}\n"
        "\n"
        "SPEC = Spec(\n"
        f"    id={_literal(f'{r.spec_id}-{r.policy}')},\n"
        f"    title={_literal(title)},\n"
        "    world=lambda: CowWorld.scripted({\n"
        f"{programs}\n"
        f"{schedule}),\n"
        f"    invariants=[{_literal(r.property)}],\n"
        f"    expect={{{_literal(r.policy)}: \"violated\"}},\n"
        ")\n")


def _wrapped_list(items: Sequence[str], head: str, indent: int, width: int = 110) -> str:
    """``head[item, item, ...]``, continued on lines indented by ``indent`` where it grows past ``width``."""
    lines, line = [], head + "["
    for n, item in enumerate(items):
        piece = item + (", " if n < len(items) - 1 else "]")
        if len(line) + len(piece.rstrip()) > width and not line.endswith("["):
            lines.append(line.rstrip())
            line = " " * indent
        line += piece
    if not items:
        line += "]"
    lines.append(line)
    return "\n".join(lines)
