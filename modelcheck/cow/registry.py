"""Declarations made where things are written: decorators on the mechanisms, filled into tables at import.

* ``Branch``: the branches a mechanism can take, an Enum per mechanism, each
  with its words for people and whether coverage names it. Mechanisms return
  the branch's value (a plain string, as fast as a literal on the hot path);
  every branch an action records is checked against these declarations the
  first time it fires (``check_branch``).
* ``@mechanism(Branches)``: a mechanism and the branches it declares.
* ``@operation("store aN", Branches, ...)``: an operation a scenario's program
  can name, its form, its summary, and what it needs of the world; the
  scenario grammar, the dispatch, the coverage universe and the README's list
  of operations are derived from these (``operations``).
* ``@through_tlb("store")``: the operation's mechanism in a world with TLBs.
* ``@in_steps("fork")``: the operation's mechanism in a world that runs it in steps.
* ``@batch_twin("ReferenceBatch._write_fault_on")``: the routine of the numpy
  batch form (``batch``) that restates this mechanism on columns.

This module knows no mechanism; the mechanisms import it.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field, replace
from enum import Enum, StrEnum
from functools import cache
from typing import Any, Callable, Iterable, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


class Branch(StrEnum):
    """A branch a mechanism can take. Its value is the name an action records (``copy``, ``fork_share``);
    ``words`` say it for people (may name ``{policy}``); ``covered``: coverage names it (a plain outcome,
    the operation simply done, is not); ``partial``: the thread stays mid-operation (a step of a split one).

    A member is declared as its name, or a tuple (name, words, covered, partial); ``outcome`` makes a plain
    one."""

    words: str
    covered: bool
    partial: bool

    def __new__(cls, value: str, words: str = "", covered: bool = True, partial: bool = False) -> Branch:
        member = str.__new__(cls, value)
        member._value_ = value
        member.words = words
        member.covered = covered
        member.partial = partial
        return member


def outcome(name: str, words: str = "", partial: bool = False) -> Any:
    """A branch that is the operation simply done: it names no coverage item of its own."""
    return (name, words, False, partial)


class Form(Enum):
    """How a scenario writes an operation."""

    PLAIN = ""                     # fork
    ADDRESS = " aN"                # store a0 (a0.1: another part of the page)
    TAKES_HOLDER = " aN -> NAME"   # get_ro a0 -> buf: takes a GUP reference, held as buf
    USES_HOLDER = " NAME"          # put buf
    NAMES_CHILD = " childN"        # wait child1: waits for child 1's exit
    NAMES_TOKEN = " T"             # signal ready / await ready: a named one-shot event between threads
    TWO_ADDRESSES = " aN aK"       # mremap a0 a1: from one address to another of the same process

    @classmethod
    def of(cls, written: str) -> tuple[str, Form]:
        """(kind, form) of a form as written: ``store aN``, ``get_ro aN -> NAME``, ``put NAME``, ``fork``,
        ``wait childN``, ``signal T``."""
        kind, _, rest = written.partition(" ")
        for form in cls:
            if form.value == (" " + rest if rest else ""):
                return kind, form
        raise ValueError(f"{written!r}: not a form of operation (kind, kind aN, kind aN -> NAME, kind NAME, "
                         "kind childN, kind T)")


# what a mechanism may be given (``child``: the child a wait names; ``token``: the number of the token an
# operation signals or awaits, in the scenario's ``tokens``; ``target``: the second address of a two-address one)
ARGUMENTS = frozenset({"thread", "proc", "addr", "cell", "holder", "child", "token", "tag", "target"})


@dataclass(frozen=True)
class OperationDecl:
    """An operation a scenario's program can name, as its mechanism declares it.

    ``run`` takes (kernel, state copy, *arguments) with arguments named in ``params`` from ``ARGUMENTS``
    (``tag``, the value a write leaves, last); ``needs``: optional parts of the state the world must have
    when a scenario uses it; ``expects``: the policy branches a run with it should see fire (the coverage
    universe); ``on_return``: what the system call's return makes true (ghost state), given
    (machine, state copy, proc, addr); ``deferred_flush``: with TLBs, the change is made with a TLB flush
    deferred to a second step, of the address or of the whole mm, when ``defers(policy)``; ``reference``: for
    an operation that takes a GUP reference, its kind, or "era" when the policy's ``odirect_pins`` decides it
    (O_DIRECT), which a scenario may pin down (``dio_read a0 -> h [get]``); ``foll_write``: that reference is
    taken with FOLL_WRITE.
    """

    kind: str
    form: Form
    run: Callable[..., str | None]
    params: tuple[str, ...]
    branches: type[Branch] | None
    summary: str
    note: str = ""  # a few words the README's list adds (shared by the kinds it joins)
    needs: frozenset[str] = frozenset()
    expects: tuple[Branch, ...] = ()
    on_return: Callable[..., None] | None = None
    deferred_flush: str | None = None  # "address" or "mm"
    defers: Callable[[Any], bool] = field(default=lambda policy: True)
    tlb_run: Callable[..., str | None] | None = None
    tlb_params: tuple[str, ...] = ()
    steps_run: Callable[..., str | None] | None = None  # the mechanism in a world that runs the kind in steps
    steps_params: tuple[str, ...] = ()
    reference: str = ""  # a GUP operation's reference: "get" (FOLL_GET), "pin" (FOLL_PIN) or "era" (the policy's)
    foll_write: bool = False  # a GUP operation's FOLL_WRITE: the device writes the page
    longterm: bool = False  # a GUP operation's FOLL_LONGTERM (a pin held for as long as the user likes)
    unpopulates: bool = False  # leaves aN without a PTE in its VMA: the next access there faults a page in

    @property
    def written(self) -> str:
        return self.kind + self.form.value

    @property
    def writes(self) -> bool:
        """The operation leaves a value (its last argument is the value's tag)."""
        return "tag" in self.params


OPERATIONS: dict[str, OperationDecl] = {}          # kind -> declaration, in the order they are declared
MECHANISMS: dict[str, tuple[type[Branch], ...]] = {}  # qualified name -> the branches it declares
BRANCHES: list[type[Branch]] = []                 # every declared Enum, in the order declared
BATCH_TWINS: dict[str, tuple[str, ...]] = {}      # qualified name of a mechanism -> its batch routines
_EXPECTED_BY_RUN: dict[Callable[..., Any], tuple[Branch, ...]] = {}


def _qualified(fn: Callable[..., Any]) -> str:
    return f"{fn.__module__}.{fn.__qualname__}"


def _declare(branches: Iterable[type[Branch]]) -> None:
    for enum in branches:
        if enum not in BRANCHES:
            BRANCHES.append(enum)
            declared.cache_clear()


def _params(fn: Callable[..., Any]) -> tuple[str, ...]:
    names = tuple(inspect.signature(fn).parameters)[2:]  # after the kernel and the state
    unknown = set(names) - ARGUMENTS
    if unknown or ("tag" in names and names[-1] != "tag"):
        raise TypeError(f"{_qualified(fn)}: an operation's mechanism takes (k, t, *{sorted(ARGUMENTS)}) with tag "
                        f"last, not {names}")
    return names


def mechanism(*branches: type[Branch], expects: Iterable[Branch] = ()) -> Callable[[F], F]:
    """Declare the branches a mechanism can take (and the policy branches a run with it should see fire)."""
    def declare(fn: F) -> F:
        MECHANISMS[_qualified(fn)] = tuple(dict.fromkeys(MECHANISMS.get(_qualified(fn), ()) + branches))
        _declare(branches)
        if expects:
            _EXPECTED_BY_RUN[fn] = tuple(dict.fromkeys(_EXPECTED_BY_RUN.get(fn, ()) + tuple(expects)))
        return fn
    return declare


def operation(written: str, branches: type[Branch] | None = None, *, summary: str, note: str = "",
              needs: Iterable[str] = (),
              expects: Iterable[Branch] = (), on_return: Callable[..., None] | None = None,
              deferred_flush: str | None = None, defers: Callable[[Any], bool] | None = None,
              reference: str = "", foll_write: bool = False, longterm: bool = False,
              unpopulates: bool = False) -> Callable[[F], F]:
    """Declare an operation a scenario can name, carried out by the decorated mechanism (see ``OperationDecl``)."""
    kind, form = Form.of(written)

    def declare(fn: F) -> F:
        if kind in OPERATIONS:
            raise ValueError(f"operation {kind!r} is declared twice")
        decl = OperationDecl(kind=kind, form=form, run=fn, params=_params(fn), branches=branches, summary=summary,
                             note=note, needs=frozenset(needs), expects=tuple(expects), on_return=on_return,
                             deferred_flush=deferred_flush, reference=reference,
                             foll_write=foll_write, longterm=longterm, unpopulates=unpopulates)
        if defers is not None:
            decl = replace(decl, defers=defers)
        OPERATIONS[kind] = decl
        mechanism(*([branches] if branches else []), expects=expects)(fn)
        return fn
    return declare


def through_tlb(*kinds: str) -> Callable[[F], F]:
    """Declare the decorated mechanism as how ``kinds`` are carried out in a world with TLBs."""
    def declare(fn: F) -> F:
        for kind in kinds:
            OPERATIONS[kind] = replace(OPERATIONS[kind], tlb_run=fn, tlb_params=_params(fn))
        return fn
    return declare


def in_steps(*kinds: str) -> Callable[[F], F]:
    """Declare the decorated mechanism as how ``kinds`` are carried out in a world that runs them in steps
    (``Machine.stepped``: another thread may act between the steps)."""
    def declare(fn: F) -> F:
        for kind in kinds:
            OPERATIONS[kind] = replace(OPERATIONS[kind], steps_run=fn, steps_params=_params(fn))
        return fn
    return declare


def batch_twin(*routines: str) -> Callable[[F], F]:
    """Name the routines of the numpy batch form (``batch``, as ``Class.method`` or ``function``) that restate
    the decorated mechanism on columns: a change to one is a change to the other."""
    def declare(fn: F) -> F:
        BATCH_TWINS[_qualified(fn)] = BATCH_TWINS.get(_qualified(fn), ()) + routines
        return fn
    return declare


def declares(fn: Callable[..., Any], branches: type[Branch]) -> bool:
    """Whether the mechanism ``fn`` declares ``branches`` (``@mechanism``)."""
    return branches in MECHANISMS.get(_qualified(fn), ())


def expected_of(run: Callable[..., Any]) -> tuple[Branch, ...]:
    """The policy branches a run of the mechanism ``run`` should see fire."""
    return _EXPECTED_BY_RUN.get(run, ())


# -- what the declarations say ---------------------------------------------------------------------------------

@cache
def declared() -> dict[str, Branch]:
    """Every declared branch by name. A name several mechanisms declare (``lru_drain``: a fault drains the
    batch first, and so does the kernel event) is declared alike, its words said once."""
    found: dict[str, Branch] = {}
    for branches in BRANCHES:
        for member in branches:
            known = found.get(member.value)
            if known is not None and ((known.covered, known.partial) != (member.covered, member.partial)
                                      or (known.words and member.words and known.words != member.words)):
                raise ValueError(f"branch {member.value!r} is declared twice, differently")
            if known is None or member.words:
                found[member.value] = member
    return found


def check_branch(branch: str) -> None:
    """Every part of a branch an action records is a declared branch: raised the first time it fires."""
    known = declared()
    for part in branch.split("+"):
        if part not in known:
            raise ValueError(f"branch {part!r} (of {branch!r}) is declared by no mechanism")
