"""Bounded model checking: the model's transition relation unrolled for K steps in z3.

The second engine, to check the first. It does not search a state graph: the
state after k steps is a frame of bit-vector variables, each defined from the
frame before by a choice among guarded updates, and z3 is asked for a run from
the initial state whose last step violates a property. Depth by depth, so the
first run found is a shortest one (the same length breadth-first search
reports). The search is complete, and "no violation" a full verdict, when the
newest frame has no state that no earlier frame has (the frames then hold every
reachable state: the reachability diameter, found by listing each frame's
states with the solver, one question per new state), or when no run of k+1
steps visits k+2 different states (the recurrence diameter as completeness
threshold, as in Biere et al.'s bounded model checking), whichever comes first.

The guarded updates come from the model's own step code, run by symbolic
execution (``symexec``) on a state of variables x bound to frame k: each path
through the code is a guard on x and the terms of the successor's slots. The
relation is built lazily: at frame k only the paths that some run of k steps
takes and that no guard found so far covers are explored, so the code is never
run on a state no execution reaches (which is what made an eager relation over
every vector within slot bounds walk thousands of unreachable paths). A path's
guard is the conjunction of every condition the code tested, so it is exact
for every state, not only for those of the frame it was found at; the paths of
one key's deterministic code have disjoint guards, so a state that a guard
found at an earlier frame covers can never take a later one.

Properties are judged the same way: an invariant's code runs on frame k+1 and
any path on which it returns false is a violation some run reaches; a
transition check runs on frames k and k+1 for each action step k can take. Each
piece of code is known by its paths so far, so a frame costs one question when
nothing is new there, and one more per property.

The counterexample is replayed on the model itself (``replay``), so it has the
same shape as the explicit engines' and a disagreement between the two engines
shows as a failed replay.

What a model offers for it: ``step_keys()`` and ``step(state, key)`` (the
enabled actions of one key with their successors, as ``successors`` lists
them), on states that are flat tuples of integers. Optionally, parameters of
the run: ``free_slots()`` (initial-state slots left free, with inclusive bounds)
and ``fixing(values)`` (the model with them set, to replay a counterexample
on): z3 then finds the values a violation needs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Any, Callable

import z3

from modelcheck.engine.model import Invariant, Model, TransitionCheck
from modelcheck.engine.progress import Progress
from modelcheck.engine.replay import replay
from modelcheck.engine.result import Result, Stats, Verdict, Violation
from modelcheck.engine.search import EnginesDisagree
from modelcheck.engine.symexec import WIDTH, SymState, TooManyValues, every_path
from modelcheck.symbolic import SolverGaveUp
from modelcheck.symbolic.solver import Solver
from modelcheck.engine.traces import build_trace


CHOICE_WIDTH = 20  # bits of a step's choice among the table's transitions


def offers_bmc(model: Any) -> bool:
    return all(callable(getattr(model, name, None)) for name in ("step_keys", "step")) \
        and model.step_keys() is not None


@dataclass(frozen=True)
class Transition:
    """One path through one key's step code: a guard on the state before and the successor's slots."""

    action: Any
    guard: Any
    after: tuple[Any, ...]


@dataclass
class _Code:
    """One piece of the model's deterministic code (a step key's, an invariant's, a transition check's for
    one action), known by the paths explored so far: each path's guard, over the code's variables, and
    what the code returned on it."""

    where: str
    run: Callable[[Any], Any]
    variables: list[Any]
    steps: bool = False  # a step key's: each path's results are transitions of the relation
    paths: list[tuple[Any, Any]] = field(default_factory=list)

    def covered(self) -> Any:
        return z3.Or(*[guard for guard, _ in self.paths]) if self.paths else z3.BoolVal(False)

    def failing(self) -> Any:
        """Where a property's code returned false."""
        bad = [guard for guard, holds in self.paths if not holds]
        return z3.Or(*bad) if bad else z3.BoolVal(False)


class _OutOfTime(Exception):
    pass


def _guard(path: Any) -> Any:
    return z3.And(*path.constraints) if path.constraints else z3.BoolVal(True)


class _Unrolling:
    """Every run of the model from its initial state, frame by frame, in one incremental solver.

    A frame is a list of terms: a constant where every run reaching the frame agrees on the slot (found
    once per frame; most slots of a scripted scenario are), else the frame's own variable. Putting the
    constants in decides most of the code's tests without asking z3, and the solver never rediscovers
    what a frame fixes."""

    LISTING_CAP = 5000  # states listed to find the reachability diameter, at most

    def __init__(self, model: Model, init: tuple[int, ...], free: dict[int, tuple[int, int]],
                 deadline: float | None) -> None:
        self.model = model
        self.deadline = deadline
        self.x = [z3.BitVec(f"x{i}", WIDTH) for i in range(len(init))]  # the state a piece of code runs on
        self.y = [z3.BitVec(f"y{i}", WIDTH) for i in range(len(init))]  # the state after, for transition checks
        self.solver = Solver("QF_BV")  # bit-blasted, incremental: several times faster here than the default
        first = [z3.BitVecVal(v, WIDTH) for v in init]
        self.parameters = {slot: z3.BitVec(f"p{slot}", WIDTH) for slot in free}  # free initial slots
        for slot, (least, most) in free.items():
            first[slot] = self.parameters[slot]
            self.solver.add(z3.ULE(least, first[slot]), z3.ULE(first[slot], most))
        self.frames: list[list[Any]] = [first]
        self.choices: list[Any] = []
        self.live: list[list[int]] = []  # per step, the table's transitions whose guard the frame does not refute
        self.table: list[Transition] = []
        self.steps = [_Code(f"the step of {key!r}", self._stepper(key), self.x, steps=True)
                      for key in model.step_keys()]
        self.properties: dict[Any, _Code] = {}
        self.paths = 0
        self.apart: list[Any] = []  # for each pair of frames that can differ, the condition that they do
        self.repeats = False
        self.seen: list[tuple[Any, ...]] = []  # every state of the frames so far (listed by ``saturated``)
        self.listing = not free  # until the frames hold more than LISTING_CAP states (with parameters: never)

    def _stepper(self, key: Any) -> Callable[[Any], Any]:
        def step(path):
            state = SymState(list(self.x), path)
            return [(action, successor.terms()) for action, successor in self.model.step(state, key)]
        return step

    def _in_time(self) -> None:
        if self.deadline is not None and time.perf_counter() > self.deadline:
            raise _OutOfTime()

    # -- frames ---------------------------------------------------------------------------------------------
    def _settle(self, k: int) -> None:
        """Put into frame ``k`` the constant of every slot all runs reaching it agree on."""
        frame = self.frames[k]
        open_ = [i for i, t in enumerate(frame) if not z3.is_bv_value(t)]
        if not open_ or self.solver.check() != z3.sat:
            return
        guess = self.solver.model()
        guess = {i: guess.eval(frame[i], model_completion=True) for i in open_}
        while open_:  # each solution that differs from the guess rules out the slots it differs on
            self._in_time()
            if self.solver.check(z3.Or(*[frame[i] != guess[i] for i in open_])) == z3.unsat:
                break
            other = self.solver.model()
            open_ = [i for i in open_ if other.eval(frame[i], model_completion=True).eq(guess[i])]
        for i in open_:
            frame[i] = guess[i]

    def can_step(self, k: int) -> tuple[Any, Any]:
        """Step ``k``'s choice variable and the condition that it names a transition whose guard holds."""
        pairs = list(zip(self.x, self.frames[k]))
        choice = z3.BitVec(f"step{k}", CHOICE_WIDTH)
        live, guards, seen = [], [], {}
        for n, t in enumerate(self.table):
            guard = seen.get(t.guard.get_id())
            if guard is None:  # the transitions of one path share its guard
                guard = seen[t.guard.get_id()] = z3.simplify(z3.substitute(t.guard, *pairs))
            if not z3.is_false(guard):
                live.append(n)
                guards.append(z3.Implies(choice == n, guard))
        self.live[k:] = [live]
        if not live:
            return choice, z3.BoolVal(False)
        return choice, z3.And(z3.Or(*[choice == n for n in live]), *guards)

    def advance(self, k: int, choice: Any, taken: Any) -> None:
        """Frame ``k + 1``: the state after the transition ``choice`` from frame ``k``."""
        frame = self.frames[k]
        pairs = list(zip(self.x, frame))
        following = []
        for i, (x, value) in enumerate(zip(self.x, frame)):
            by_term: dict[int, tuple[Any, list[int]]] = {}  # the transitions that give slot i one same term
            for n in self.live[k]:
                after = self.table[n].after[i]
                if not after.eq(x):
                    by_term.setdefault(after.get_id(), (after, []))[1].append(n)
            for after, numbers in by_term.values():
                value = z3.If(z3.Or(*[choice == n for n in numbers]), z3.substitute(after, *pairs), value)
            value = z3.simplify(value)
            if not (z3.is_bv_value(value) or z3.is_const(value)):  # a slot no step can change keeps its term
                variable = z3.BitVec(f"s{k + 1}_{i}", WIDTH)
                self.solver.add(variable == value)
                value = variable
            following.append(value)
        self.solver.add(taken)
        self.choices.append(choice)
        self.frames.append(following)
        self._settle(k + 1)

    # -- the model's code, on reachable states only ---------------------------------------------------------
    def explore(self, jobs: list[tuple[_Code, list[Any], Any]]) -> None:
        """Extend each code's paths with those some state of its frames takes and no path found so far
        covers. A job is (code, the frame terms its variables stand for, an extra condition); one question
        first asks whether any job has anything new (at later frames nothing is, and one proof is cheaper
        than one per job)."""
        def uncovered(code, terms, extra):
            return z3.And(extra, z3.Not(z3.substitute(code.covered(), *zip(code.variables, terms))))
        if not jobs or self.solver.check(z3.Or(*[uncovered(*job) for job in jobs])) == z3.unsat:
            return
        for code, terms, extra in jobs:
            self._in_time()
            self.solver.push()
            self.solver.add(*[v == t for v, t in zip(code.variables, terms)], extra, z3.Not(code.covered()))
            if self.solver.check() == z3.sat:
                known = [(v, t) for v, t in zip(code.variables, terms) if z3.is_bv_value(t)]
                for result, path in self._run(code, known):
                    guard = _guard(path)
                    code.paths.append((guard, result))
                    if code.steps:
                        self.table += [Transition(action, guard, tuple(after)) for action, after in result]
            self.solver.pop()

    def _run(self, code: _Code, known: list[tuple[Any, Any]]) -> list[tuple[Any, Any]]:
        def timed(path):
            self._in_time()
            return code.run(path)
        try:
            found = every_path(self.solver, timed, known)
        except (IndexError, KeyError, ValueError, RuntimeError) as failure:
            raise EnginesDisagree(f"{code.where} failed under symbolic execution on a state a run reaches "
                                  f"({type(failure).__name__}: {failure}); the explicit engines run the same "
                                  "code on every reachable state") from failure
        self.paths += len(found)
        return found

    def cover(self, k: int) -> None:
        """Add to the table the paths of every key's step that some state of frame ``k`` takes."""
        self.explore([(code, self.frames[k], z3.BoolVal(True)) for code in self.steps])

    # -- properties ------------------------------------------------------------------------------------------
    def _invariant(self, inv: Invariant) -> _Code:
        code = self.properties.get(inv.name)
        if code is None:
            code = self.properties[inv.name] = _Code(f"the invariant {inv.name}",
                                                     lambda path: bool(inv.holds(SymState(list(self.x), path))),
                                                     self.x)
        return code

    def _check(self, check: TransitionCheck, action: Any) -> _Code:
        code = self.properties.get((check.name, action))
        if code is None:
            def judge(path):
                return bool(check.holds(SymState(list(self.x), path), action, SymState(list(self.y), path)))
            code = self.properties[check.name, action] = _Code(f"the check {check.name}", judge, self.x + self.y)
        return code

    def broken_initially(self, invariants: list[Invariant]) -> dict[str, Any]:
        """For each invariant the initial state violates (for some value of the parameters), a solution."""
        jobs = [(self._invariant(inv), self.frames[0], z3.BoolVal(True)) for inv in invariants]
        self.explore(jobs)
        return self._solutions({inv.name: z3.substitute(self._invariant(inv).failing(), *zip(self.x, self.frames[0]))
                                for inv in invariants})

    def _solutions(self, conditions: dict[str, Any]) -> dict[str, Any]:
        """For each condition some run meets, a solution; with parameters, the one with the least values
        (each in turn, by bisection), as the smallest counts make the clearest counterexample."""
        solutions = {}
        for name, bad in conditions.items():
            bad = z3.simplify(bad)
            if z3.is_false(bad) or self.solver.check(bad) != z3.sat:
                continue
            solution = self.solver.model()
            fixed = [bad]
            for p in self.parameters.values():
                least, most = 0, solution.eval(p, model_completion=True).as_long()
                while least < most:
                    self._in_time()
                    middle = (least + most) // 2
                    if self.solver.check(*fixed, z3.ULE(p, middle)) == z3.sat:
                        solution, most = self.solver.model(), middle
                    else:
                        least = middle + 1
                fixed.append(p == most)
            solutions[name] = solution
        return solutions

    def broken(self, invariants: list[Invariant], checks: list[TransitionCheck], k: int) -> dict[str, Any]:
        """For each property some run violates at frame ``k + 1`` (an invariant) or step ``k`` (a check),
        a solution of the unrolling that does."""
        after, both = self.frames[k + 1], self.frames[k] + self.frames[k + 1]
        by_action: dict[Any, list[int]] = {}
        for n in self.live[k]:
            by_action.setdefault(self.table[n].action, []).append(n)
        taken = {action: z3.Or(*[self.choices[k] == n for n in numbers]) for action, numbers in by_action.items()}
        jobs = [(self._invariant(inv), after, z3.BoolVal(True)) for inv in invariants]
        watched = [(check, action) for check in checks for action in by_action if check.watches(action)]
        jobs += [(self._check(check, action), both, taken[action]) for check, action in watched]
        self.explore(jobs)
        found = {}
        for inv in invariants:
            code = self._invariant(inv)
            found[inv.name] = z3.substitute(code.failing(), *zip(code.variables, after))
        for check, action in watched:
            code = self._check(check, action)
            bad = z3.And(taken[action], z3.substitute(code.failing(), *zip(code.variables, both)))
            found[check.name] = z3.Or(found[check.name], bad) if check.name in found else bad
        return self._solutions(found)

    def saturated(self) -> bool:
        """Whether the newest frame has no state an earlier frame does not have. Then the frames before
        it hold every reachable state (a state first reached later would have a predecessor in the
        newest frame, so it would be reached earlier), and judging them and their steps was judging
        everything: the search ends at the depth breadth-first search ends at, plus one, where runs
        that repeat no state may go on much longer.

        Call right after the frame is added, before later steps constrain it: the frame's states are
        listed one question each, every one kept as a clause that keeps it out of the questions about
        later frames, so over the whole run each reachable state costs one question."""
        if not self.listing:
            return False
        last = self.frames[-1]
        active = z3.Bool(f"unseen{len(self.frames)}")  # the kept states, excluded from the newest frame
        self.solver.add(*[z3.Implies(active, self._not_state(last, state)) for state in self.seen])
        new = 0
        while self.solver.check(active) == z3.sat:
            self._in_time()
            solution = self.solver.model()
            state = tuple(solution.eval(t, model_completion=True) for t in last)
            self.seen.append(state)
            if len(self.seen) > self.LISTING_CAP:  # a state space for search, not for listing: give up the
                self.listing = False  # reachability diameter (loop-free runs still end the search)
                self.seen = []
                return False
            self.solver.add(z3.Implies(active, self._not_state(last, state)))
            new += 1
        return new == 0

    @staticmethod
    def _not_state(frame: list[Any], state: tuple[Any, ...]) -> Any:
        return z3.simplify(z3.Or(*[a != b for a, b in zip(frame, state)]))

    def loop_free_run(self) -> bool:
        """Whether some run through every frame visits no state twice. If none does, every reachable
        state has a shortest run within the frames before the last, so the frames hold all of them."""
        frames, j = self.frames, len(self.frames) - 1
        for i in range(j):  # the newest frame against each earlier one (earlier pairs are kept)
            differ = z3.simplify(z3.Or(*[a != b for a, b in zip(frames[i], frames[j])]))
            if z3.is_false(differ):
                self.repeats = True  # two frames every run agrees on: every run repeats a state
            elif not z3.is_true(differ):
                self.apart.append(differ)
        if self.repeats:
            return False
        self.solver.push()
        self.solver.add(*self.apart)
        answer = self.solver.check() == z3.sat
        self.solver.pop()
        return answer

    def labels(self, solution: Any, steps: int) -> list[str]:
        return [self.model.action_label(self.table[solution.eval(c).as_long()].action) for c in self.choices[:steps]]


def _judged(model: Model) -> tuple[list[Invariant], list[TransitionCheck]]:
    """The properties that can be violated (counted ones are not judged here)."""
    properties = list(model.properties())
    return ([p for p in properties if isinstance(p, Invariant)],
            [p for p in properties if isinstance(p, TransitionCheck)])


def run(model: Model, depth: int, stop_at_first: bool = True, time_limit: float | None = None,
        progress: Progress | None = None) -> Result:
    """Look for the shortest violation of each property within ``depth`` steps."""
    started = time.perf_counter()
    deadline = started + time_limit if time_limit else None
    reached: list[Stats] = [Stats(0, 0, 0, 0.0)]  # the frames done so far, for a run cut short
    try:
        return _run(model, depth, stop_at_first, started, deadline, progress or Progress(), reached)
    except (_OutOfTime, TooManyValues, SolverGaveUp, KeyboardInterrupt) as stop:
        if isinstance(stop, KeyboardInterrupt):
            reason = "interrupted by the user"
        elif isinstance(stop, SolverGaveUp):
            reason = f"z3 gave up on a question ({stop})"
        else:
            reason = f"time limit of {time_limit:g} s reached" if isinstance(stop, _OutOfTime) else str(stop)
        stats = replace(reached[-1], seconds=time.perf_counter() - started)
        return Result(verdict=Verdict.INCOMPLETE, stats=stats, incomplete_reason=reason, strategy="bmc",
                      store="none", interrupted=isinstance(stop, KeyboardInterrupt))


def _run(model: Model, depth: int, stop_at_first: bool, started: float, deadline: float | None,
         progress: Progress, reached_so_far: list[Stats]) -> Result:
    initial = list(model.initial_states())
    if len(initial) != 1:
        raise ValueError("the bounded model checker needs exactly one initial state")
    init = initial[0]
    invariants, checks = _judged(model)
    names = [p.name for p in invariants] + list(dict.fromkeys(c.name for c in checks))
    found: dict[str, Violation] = {}
    free = model.free_slots() if callable(getattr(model, "free_slots", None)) else {}
    unrolling = _Unrolling(model, init, free, deadline)

    def parameter(slot: int, value: int | None = None) -> str:
        describe = getattr(model, "describe_parameter", None)
        if describe is not None:
            return describe(slot, value)
        return f"slot {slot}" + ("" if value is None else f" = {value}")

    def parameters(solution: Any) -> dict[int, int]:
        return {slot: solution.eval(p, model_completion=True).as_long() for slot, p in unrolling.parameters.items()}

    def concrete(values: dict[int, int]) -> Model:
        """The model with its parameters at ``values`` (itself if it has none)."""
        return model.fixing(values) if values else model  # type: ignore[attr-defined]

    for name, solution in unrolling.broken_initially(invariants).items():  # the initial state itself
        values = parameters(solution)
        fixed = concrete(values)
        start = list(fixed.initial_states())[0]
        inv = next(p for p in _judged(fixed)[0] if p.name == name)
        trace = build_trace(fixed, name, inv.explain(start), start, [])
        found[name] = Violation(name, 1, replace(trace, parameters=tuple(sorted(values.items()))))

    def report(name: str, solution: Any, steps: int) -> None:
        values = parameters(solution)
        outcome = replay(concrete(values), name, unrolling.labels(solution, steps))
        if not outcome.ok:
            raise EnginesDisagree(f"{name}: {outcome.reason}")
        found[name] = Violation(name, 1, replace(outcome.trace, parameters=tuple(sorted(values.items()))))

    complete = False
    reached = 0
    for k in range(0 if found and stop_at_first else depth + 1):
        unrolling._in_time()
        unrolling.cover(k)
        choice, taken = unrolling.can_step(k)
        if unrolling.solver.check(taken) == z3.unsat:  # no run of k+1 steps: nothing longer either
            complete = True
            break
        if k == depth:  # a run of depth+1 steps exists: the bound cut the search
            break
        unrolling.advance(k, choice, taken)
        reached = k + 1
        pending = [p for p in invariants if p.name not in found], [c for c in checks if c.name not in found]
        for name, solution in unrolling.broken(*pending, k).items():
            report(name, solution, k + 1)
        so_far = Stats(states=len(unrolling.seen), transitions=len(unrolling.table), depth=reached, seconds=0.0)
        reached_so_far.append(so_far)
        progress.update(states=so_far.states, transitions=so_far.transitions, frontier=0, depth=reached)
        if found and stop_at_first:
            break
        # frames 0..k hold every reachable state, steps 0..k every transition (the newest frame is listed
        # before the next step constrains it)
        if unrolling.saturated() or not unrolling.loop_free_run():
            complete = True
            break
    seconds = time.perf_counter() - started
    violations = tuple(found[n] for n in names if n in found)
    reason = None if violations or complete else f"no violation within {depth} steps (depth bound)"
    # states: those the frames were found to hold (listed for completeness; 0 when not listed)
    stats = Stats(states=len(unrolling.seen), transitions=len(unrolling.table), depth=reached, seconds=seconds)
    notes = (f"{unrolling.paths} path(s) through the model's code run symbolically, on states some run "
             f"reaches; {len(unrolling.table)} guarded update(s) in the relation",)
    if free:
        notes += ("parameters of the run left free (" + ", ".join(parameter(slot) for slot in free) + "): only the "
                  "end of loop-free runs can make the search complete",)
        notes += tuple(f"{v.property}: the least parameters z3 finds for it: "
                       + ", ".join(parameter(slot, value) for slot, value in v.trace.parameters) for v in violations)
    elif not unrolling.listing:
        notes += (f"more than {unrolling.LISTING_CAP} states: only the end of loop-free runs could make the "
                  "search complete",)
    return Result(verdict=Verdict.of(bool(violations), reason), stats=stats, violations=violations,
                  incomplete_reason=reason, strategy="bmc", store="none", notes=notes)
