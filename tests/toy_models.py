"""Small models with answers known by hand, for testing the engine alone."""

from __future__ import annotations

from typing import NamedTuple

from modelcheck.engine import Invariant, TransitionCheck


class Step(NamedTuple):
    name: str
    who: int = 0


class Counter:
    """x counts from 0 to ``limit`` by 1: limit+1 states, depth ``limit``."""

    INC = Step("inc")

    def __init__(self, limit: int, forbidden: int | None = None, forbidden_step: int | None = None,
                 interrupt_at: int | None = None) -> None:
        self.limit, self.forbidden = limit, forbidden
        self.forbidden_step, self.interrupt_at = forbidden_step, interrupt_at

    def initial_states(self):
        return [0]

    def successors(self, x):
        if self.interrupt_at is not None and x == self.interrupt_at:
            raise KeyboardInterrupt
        return [(self.INC, x + 1)] if x < self.limit else []

    def properties(self):
        props = []
        if self.forbidden is not None:
            props.append(Invariant("never_forbidden", lambda x: x != self.forbidden,
                                   lambda x: f"x reached {x}"))
        if self.forbidden_step is not None:
            props.append(TransitionCheck("no_forbidden_step", lambda a, act, b: a != self.forbidden_step,
                                         lambda a, act, b: f"stepped from {a} to {b}"))
        return props

    def action_label(self, act):
        return act.name

    def action_actor(self, act):
        return "counter"

    def describe_transition(self, before, act, after):
        return [f"x: {before} -> {after}"]

    def state_to_json(self, x):
        return {"x": x}


class NaiveLock:
    """Two processes take a lock by test-then-set, two separate steps (a known race).

    pc: 0 idle, 1 saw the lock free, 2 in the critical section. State (pc0, pc1, lock).
    Reachable by hand: 13 states; both in the critical section after 4 steps
    (test0, test1, set0, set1). With ``atomic`` the test-and-set is one step: 3 states, safe.
    """

    def __init__(self, atomic: bool = False) -> None:
        self.atomic = atomic
        self.acts = {(who, name): Step(name, who) for who in (0, 1) for name in ("test", "set", "exit", "tas")}

    def initial_states(self):
        return [(0, 0, 0)]

    def successors(self, s):
        out = []
        for who in (0, 1):
            pc, lock = s[who], s[2]
            if self.atomic:
                if pc == 0 and lock == 0:
                    out.append((self.acts[who, "tas"], self._set(s, who, 2, 1)))
            elif pc == 0 and lock == 0:
                out.append((self.acts[who, "test"], self._set(s, who, 1, lock)))
            elif pc == 1:
                out.append((self.acts[who, "set"], self._set(s, who, 2, 1)))
            if pc == 2:
                out.append((self.acts[who, "exit"], self._set(s, who, 0, 0)))
        return out

    @staticmethod
    def _set(s, who, pc, lock):
        pcs = list(s[:2])
        pcs[who] = pc
        return (pcs[0], pcs[1], lock)

    def properties(self):
        return [Invariant("mutual_exclusion", lambda s: not (s[0] == 2 and s[1] == 2),
                          lambda s: "both processes are in the critical section")]

    def action_label(self, act):
        return f"p{act.who} {act.name}"

    def action_actor(self, act):
        return f"p{act.who}"

    def describe_transition(self, before, act, after):
        return [f"{before} -> {after}"]

    def state_to_json(self, s):
        return list(s)
