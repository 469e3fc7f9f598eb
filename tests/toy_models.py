"""Small models with answers known by hand, for testing the engine alone."""

from __future__ import annotations

import time
from typing import NamedTuple

from modelcheck.engine import Invariant, TransitionCheck


class Step(NamedTuple):
    name: str
    who: int = 0


class Counter:
    """x counts from 0 to ``limit`` by 1: limit+1 states, depth ``limit``."""

    INC = Step("inc")

    def __init__(self, limit: int, forbidden: int | None = None, forbidden_step: int | None = None,
                 interrupt_at: int | None = None, stuck_at: int | None = None) -> None:
        self.limit, self.forbidden = limit, forbidden
        self.forbidden_step, self.interrupt_at, self.stuck_at = forbidden_step, interrupt_at, stuck_at

    def initial_states(self):
        return [0]

    def successors(self, x):
        if self.interrupt_at is not None and x == self.interrupt_at:
            raise KeyboardInterrupt
        if x == self.stuck_at:  # one step that takes far longer than any time limit of a test
            time.sleep(60)
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


class Op(NamedTuple):
    """A step of a thread: ``write`` sets ``var`` to ``value``; ``copy`` sets ``var`` to ``source``'s value;
    ``await`` waits until ``var`` holds ``value`` (it is disabled until then)."""

    thread: int
    kind: str
    var: int
    value: int = 1
    source: int = -1


class Programs:
    """Threads running fixed programs over shared variables; a state is (program counters, variables).

    It declares step keys (the thread) and footprints, so DPOR can search it.
    ``forbidden`` is a variable picture (None where any value will do) no state
    may match; ``read_watch`` is (variable, value) a ``copy`` must never read.
    ``lie`` drops what a footprint would say about the properties' reads (and,
    with "writes", the steps' writes): a deliberately unsound reduction.
    """

    def __init__(self, programs: list[list[tuple]], variables: int, forbidden: tuple | None = None,
                 read_watch: tuple[int, int] | None = None, lie: str = "", loop: bool = False) -> None:
        self.programs = [[Op(t, *op) for op in prog] for t, prog in enumerate(programs)]
        self.variables, self.forbidden, self.read_watch, self.lie, self.loop = \
            variables, forbidden, read_watch, lie, loop

    def initial_states(self):
        return [((0,) * len(self.programs), (0,) * self.variables)]

    def successors(self, state):
        pcs, values = state
        out = []
        for t, prog in enumerate(self.programs):
            if pcs[t] < len(prog):
                op = prog[pcs[t]]
                if op.kind == "await" and values[op.var] != op.value:
                    continue
                new = list(values)
                if op.kind != "await":
                    new[op.var] = op.value if op.kind == "write" else values[op.source]
                next_pcs = list(pcs)
                next_pcs[t] = (pcs[t] + 1) % len(prog) if self.loop else pcs[t] + 1
                out.append((op, (tuple(next_pcs), tuple(new))))
        return out

    def step_key(self, op):
        return op.thread

    def step_keys(self):
        return range(len(self.programs))

    def step(self, state, thread):
        return [(op, after) for op, after in self.successors(state) if op.thread == thread]

    def footprint(self, state, thread):
        pcs, _ = state
        reads, writes = {("pc", thread)}, {("pc", thread)}
        if pcs[thread] >= len(self.programs[thread]) and not self.loop:
            return reads, set()  # finished: its test read its own program counter
        op = self.programs[thread][pcs[thread]]
        if op.kind == "copy":
            reads.add(op.source)
        if op.kind == "await":
            reads.add(op.var)
        elif self.lie != "writes":
            writes.add(op.var)
        if not self.lie:  # the properties read these, when they judge the step and the state after it
            reads |= {i for i, want in enumerate(self.forbidden or ()) if want is not None}
        return reads, writes

    def properties(self):
        props = []
        if self.forbidden is not None:
            props.append(Invariant(
                "not_forbidden",
                lambda s: any(want is not None and v != want for v, want in zip(s[1], self.forbidden)),
                lambda s: f"variables are {s[1]}"))
        if self.read_watch is not None:
            var, value = self.read_watch
            props.append(TransitionCheck(
                "no_bad_read", lambda b, op, a: not (op.source == var and b[1][var] == value),
                lambda b, op, a: f"thread {op.thread} read {value} from v{var}",
                watches=lambda op: op.kind == "copy"))
        return props

    def action_label(self, op):
        if op.kind == "await":
            return f"t{op.thread}: await v{op.var} == {op.value}"
        return f"t{op.thread}: v{op.var} = " + (str(op.value) if op.kind == "write" else f"v{op.source}")

    def action_actor(self, op):
        return f"t{op.thread}"

    def describe_transition(self, before, op, after):
        return [f"variables {before[1]} -> {after[1]}"]

    def state_to_json(self, state):
        return {"pcs": list(state[0]), "variables": list(state[1])}


class Ring:
    """x goes round 0..n-1 ("tick"); "bump" raises y by one whenever x == ``at``, up to ``top``.

    n * (top + 1) states, with cycles; the shortest run to y == top takes at + top steps. States are
    flat integer tuples and the model names its step keys, so the bounded model checker can run its
    code symbolically: ``tick`` looks x up in a list (symbolic execution must then take x's values
    one by one, and a free x would have 2^32 of them). ``successor_of`` replaces that list, e.g. with
    one too short, which fails on a reachable state.

    A third slot z is 0 in every reachable state, and tick doubles it; with ``far`` the invariant
    z != far holds (a property that reads a slot no step changes)."""

    def __init__(self, n: int, at: int, top: int, bad: int | None = None, bad_step: bool = False,
                 successor_of: list[int] | None = None, far: int | None = None) -> None:
        self.n, self.at, self.top, self.bad, self.bad_step, self.far = n, at, top, bad, bad_step, far
        self.successor_of = successor_of if successor_of is not None else [(x + 1) % n for x in range(n)]

    def initial_states(self):
        return [(0, 0, 0)]

    def step_keys(self):
        return ["tick", "bump"]

    def step_key(self, act):
        return act.name

    def step(self, s, key):
        t = list(s) if isinstance(s, tuple) else s.copy()
        if key == "tick":
            t[0] = self.successor_of[s[0]]
            t[2] = s[2] * 2
        elif s[0] == self.at and s[1] < self.top:
            t[1] = s[1] + 1
        else:
            return []
        return [(Step(key), tuple(t) if isinstance(s, tuple) else t)]

    def successors(self, s):
        return [pair for key in self.step_keys() for pair in self.step(s, key)]

    def properties(self):
        props = []
        if self.bad is not None:
            props.append(Invariant("y_below_bad", lambda s: s[1] != self.bad, lambda s: f"y reached {s[1]}"))
        if self.far is not None:
            props.append(Invariant("z_not_far", lambda s: s[2] != self.far, lambda s: f"z reached {s[2]}"))
        if self.bad_step:
            props.append(TransitionCheck("no_bump_to_top",
                                         lambda a, act, b: not (act.name == "bump" and b[1] == self.top),
                                         lambda a, act, b: f"bumped y to {b[1]}"))
        return props

    def action_label(self, act):
        return act.name

    def action_actor(self, act):
        return "ring"

    def describe_transition(self, before, act, after):
        return [f"(x, y, z): {before} -> {after}"]

    def state_to_json(self, s):
        return {"x": s[0], "y": s[1], "z": s[2]}


class Wheels:
    """Two wheels of n positions, each turned by its own step: n*n states, all within 2(n-1) steps, and
    runs that repeat no state for n*n - 1 steps. ``never`` is a state the invariant forbids."""

    def __init__(self, n: int, never: tuple[int, int]) -> None:
        self.n, self.never = n, never

    def initial_states(self):
        return [(0, 0)]

    def step_keys(self):
        return [0, 1]

    def step_key(self, act):
        return act.who

    def step(self, s, wheel):
        t = list(s) if isinstance(s, tuple) else s.copy()
        t[wheel] = (s[wheel] + 1) % self.n
        return [(Step("turn", wheel), tuple(t) if isinstance(s, tuple) else t)]

    def successors(self, s):
        return [pair for wheel in self.step_keys() for pair in self.step(s, wheel)]

    def properties(self):
        return [Invariant("not_never", lambda s: not (s[0] == self.never[0] and s[1] == self.never[1]),
                          lambda s: f"reached {tuple(s)}")]

    def action_label(self, act):
        return f"turn wheel {act.who}"

    def action_actor(self, act):
        return f"wheel {act.who}"

    def describe_transition(self, before, act, after):
        return [f"{before} -> {after}"]

    def state_to_json(self, s):
        return {"wheels": list(s)}
