"""The invariants of the COW world, each a named check a spec can select.

An observation (a CPU read, or reading a pipe filled by vmsplice) is judged on
the transition: what was seen is the value of the page read, in the state
before the read.

* ``no_leak_to_child`` (I1 of cow-history §2.1): a child observes only its own
  writes and what the parent wrote before that child was forked (a sibling's
  write counts as a leak too: it was not inherited).
* ``no_leak_to_parent`` (I2): the parent observes only its own writes.
* ``no_leak_across_fork``: both; the invariant of reference-world.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from modelcheck.engine.model import TransitionCheck

if TYPE_CHECKING:
    from modelcheck.cow.model import Act, CowModel

_OBSERVATIONS = frozenset({"read", "pipe_read"})


def _may_observe(model: "CowModel", observer: int, code: int) -> bool:
    """reference-world.md: may ``observer`` see the value with this code?"""
    writer, n = model.layout.decode_tag(code)
    if observer == 0:
        return writer == 0
    return writer == observer or (writer == 0 and n < observer)


def _leak_check(name: str, model: "CowModel", observers: Callable[[int], bool], doc: str) -> TransitionCheck:
    def holds(before: tuple, act: "Act", after: tuple) -> bool:
        seen = model.observation(before, act)
        if seen is None or not observers(seen[0]):
            return True
        return _may_observe(model, seen[0], seen[2])

    def explain(before: tuple, act: "Act", after: tuple) -> str:
        seen = model.observation(before, act)
        if seen is None:
            return f"{model.action_label(act)} observes nothing"
        observer, page, code = seen
        who = model.action_actor(act)
        if observer == 0:
            why = "the parent must never see a write a child made after the fork"
        else:
            why = (f"{who} may see only its own writes and the parent's writes from before fork {observer}")
        via = "through its pipe (a vmsplice reference)" if act.kind == "pipe_read" else "through its mapping"
        return f"{who} observed {model.value_words(code)} on page {page} {via}; {why}"

    return TransitionCheck(name=name, holds=holds, explain=explain,
                           watches=lambda act: act.kind in _OBSERVATIONS, doc=doc)


_FACTORIES: dict[str, Callable[["CowModel"], TransitionCheck]] = {
    "no_leak_to_child": lambda m: _leak_check(
        "no_leak_to_child", m, lambda p: p > 0,
        "a child never observes the parent's (or a sibling's) writes made after it was forked"),
    "no_leak_to_parent": lambda m: _leak_check(
        "no_leak_to_parent", m, lambda p: p == 0,
        "the parent never observes a child's writes"),
    "no_leak_across_fork": lambda m: _leak_check(
        "no_leak_across_fork", m, lambda p: True,
        "no process observes a value that is neither its own nor inherited at fork"),
}


def names() -> list[str]:
    return list(_FACTORIES)


def build(name: str, model: "CowModel") -> TransitionCheck:
    try:
        factory = _FACTORIES[name]
    except KeyError:
        raise KeyError(f"unknown invariant {name!r} (known: {', '.join(names())})") from None
    return factory(model)
