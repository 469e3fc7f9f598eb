"""The bounded model checker's unrolling: frames of bit-vector variables in one incremental z3 solver.

See ``bmc`` for the method; this module holds the z3 side, loaded only when a
bounded run starts.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Callable, Mapping, cast

import z3

from modelcheck.engine.errors import EnginesDisagree, StopReason, Stopped
from modelcheck.engine.model import Invariant, Model, Parametric, StepKeyed, TransitionCheck
from modelcheck.engine.replay import replay
from modelcheck.engine.result import Violation
from modelcheck.engine.run import Run
from modelcheck.engine.symbolic.bitvec import WIDTH, SymState, every_path
from modelcheck.engine.traces import build_trace
from modelcheck.engine.symbolic.solver import Solver

CHOICE_WIDTH = 20  # bits of a step's choice among the table's transitions


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


def _guard(path: Any) -> Any:
    return z3.And(*path.constraints) if path.constraints else z3.BoolVal(True)


class _Unrolling:
    """Every run of the model from its initial state, frame by frame, in one incremental solver.

    A frame is a list of terms: a constant where every run reaching the frame agrees on the slot (found
    once per frame; most slots of a scripted scenario are), else the frame's own variable. Putting the
    constants in decides most of the code's tests without asking z3, and the solver never rediscovers
    what a frame fixes."""

    LISTING_CAP = 5000  # states listed to find the reachability diameter, at most

    def __init__(self, model: StepKeyed, init: tuple[int, ...], free: Mapping[str, tuple[int, int, int]],
                 run: Run) -> None:
        self.model = model
        self.run = run
        self.x = [z3.BitVec(f"x{i}", WIDTH) for i in range(len(init))]  # the state a piece of code runs on
        self.y = [z3.BitVec(f"y{i}", WIDTH) for i in range(len(init))]  # the state after, for transition checks
        self.solver = Solver("QF_BV")  # bit-blasted, incremental: several times faster here than the default
        first = [z3.BitVecVal(v, WIDTH) for v in init]
        self.parameters = {name: z3.BitVec(f"p{slot}", WIDTH) for name, (slot, _, _) in free.items()}
        for name, (slot, least, most) in free.items():  # the initial slots left free
            first[slot] = self.parameters[name]
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
            state: Any = SymState(list(self.x), path)  # stands for a state: the model's code runs on it
            return [(action, successor.terms()) for action, successor in self.model.step(state, key)]
        return step

    def _in_time(self) -> None:
        self.run.check_limits()

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
        live: list[int] = []
        guards: list[Any] = []
        seen: dict[int, Any] = {}
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
                                                     lambda path: bool(inv.holds(cast(Any, SymState(list(self.x), path)))),
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


def search(model: StepKeyed, run: Run) -> None:
    """Look for the shortest violation of each property within ``run.options.depth`` steps."""
    depth = run.options.depth
    assert depth is not None
    init = list(model.initial_states())[0]
    invariants, checks = _judged(model)
    names = [p.name for p in invariants] + list(dict.fromkeys(c.name for c in checks))
    found: dict[str, Violation] = {}
    free = dict(model.parameters()) if isinstance(model, Parametric) else {}
    unrolling = _Unrolling(model, cast(tuple, init), free, run)

    def parameters(solution: Any) -> dict[str, int]:
        return {name: solution.eval(p, model_completion=True).as_long() for name, p in unrolling.parameters.items()}

    def concrete(values: dict[str, int]) -> Model:
        """The model with its parameters at ``values`` (itself if it has none)."""
        return model.fixing(values) if values and isinstance(model, Parametric) else model

    def words(values: dict[str, int]) -> str:
        return ", ".join(f"{name}: {value}" for name, value in values.items())

    def report(name: str, trace: Any, values: dict[str, int]) -> None:
        found[name] = Violation(name, 1, replace(trace, parameters=tuple(sorted(values.items()))))

    for name, solution in unrolling.broken_initially(invariants).items():  # the initial state itself
        values = parameters(solution)
        fixed = concrete(values)
        start = list(fixed.initial_states())[0]
        inv = next(p for p in _judged(fixed)[0] if p.name == name)
        report(name, build_trace(fixed, name, inv.explain(start), start, []), values)

    complete = False
    try:
        for k in range(0 if found and run.options.stop_at_first else depth + 1):
            unrolling._in_time()
            unrolling.cover(k)
            choice, taken = unrolling.can_step(k)
            if unrolling.solver.check(taken) == z3.unsat:  # no run of k+1 steps: nothing longer either
                complete = True
                break
            if k == depth:  # a run of depth+1 steps exists: the bound cut the search
                break
            unrolling.advance(k, choice, taken)
            run.depth = k + 1
            pending = [p for p in invariants if p.name not in found], [c for c in checks if c.name not in found]
            for name, solution in unrolling.broken(*pending, k).items():
                values = parameters(solution)
                outcome = replay(concrete(values), name, unrolling.labels(solution, k + 1))
                if not outcome.ok:
                    raise EnginesDisagree(f"{name}: {outcome.reason}")
                report(name, outcome.trace, values)
            # states: those the frames were found to hold (listed for completeness; 0 when not listed)
            run.states, run.transitions = len(unrolling.seen), len(unrolling.table)
            run.progress.update(states=run.states, transitions=run.transitions, frontier=0, depth=run.depth)
            if found and run.options.stop_at_first:
                break
            # frames 0..k hold every reachable state, steps 0..k every transition (the newest frame is listed
            # before the next step constrains it)
            if unrolling.saturated() or not unrolling.loop_free_run():
                complete = True
                break
    finally:
        run.states, run.transitions = len(unrolling.seen), len(unrolling.table)
        run.figures.update(paths=unrolling.paths, guarded_updates=len(unrolling.table))
        run.note(f"{unrolling.paths} path(s) through the model's code run symbolically, on states some run "
                 f"reaches; {len(unrolling.table)} guarded update(s) in the relation")
        if free:
            run.note("parameters of the run left free (" + ", ".join(free) + "): only the end of loop-free runs "
                     "can make the search complete")
        elif not unrolling.listing:
            run.note(f"more than {unrolling.LISTING_CAP} states: only the end of loop-free runs could make the "
                     "search complete")
        for name in names:
            if name in found:
                violation = found[name]
                run.record(name, violation.trace)
                if free:
                    run.note(f"{name}: the least parameters z3 finds for it: {words(dict(violation.trace.parameters))}")
    if found and run.options.stop_at_first:
        raise Stopped(StopReason.FIRST_VIOLATION)
    if not found and not complete:
        raise Stopped(StopReason.DEPTH_BOUND)
