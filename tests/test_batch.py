"""The batch form of the open reference world makes exactly the transitions CowModel makes.

For every reachable state of several worlds, under every policy: the same
multiset of (state, action, successor), the same violating transitions per
check, the same counts. The comparison can fail: a kernel whose tabulated
write-fault rule is wrong is caught below.
"""

from collections import Counter

import numpy as np
import pytest

from modelcheck.cow import CowWorld
from modelcheck.cow.batch import ReferenceBatch, page_order
from modelcheck.cow.compiled_batch import CompiledReferenceBatch
from modelcheck.cow.policies import ForkPage, PageInfo, Unshare, WriteFault, policy_names
from modelcheck.cow.policies.page_count import PageCountPolicy
from modelcheck.engine import SearchOptions, check
from modelcheck.engine.model import Batched, TransitionCheck, TransitionCount

CHECKS = ("no_leak_across_fork", "no_spurious_copy")


def reachable(model) -> list[tuple]:
    seen = set(model.initial_states())
    frontier = list(seen)
    while frontier:
        frontier = [t for s in frontier for _, t in model.successors(s) if t not in seen and not seen.add(t)]
    return sorted(seen)


def mismatches(model, kernels) -> list[str]:
    """What each batch form (one, or a list) makes differently from the model's own successors."""
    kernels = kernels if isinstance(kernels, list) else [kernels]
    states = reachable(model)
    want, want_failed, want_counted = Counter(), Counter(), Counter()
    properties = list(model.properties())
    for s in states:
        for a, t in model.successors(s):
            want[(s, a, t)] += 1
            for p in properties:
                if isinstance(p, TransitionCheck) and p.watches(a) and not p.holds(s, a, t):
                    want_failed[(p.name, s, a)] += 1
                if isinstance(p, TransitionCount) and p.watches(a) and p.matches(s, a, t):
                    want_counted[p.name] += 1
    problems = []
    for kernel in kernels:
        form = type(kernel).__name__
        out = kernel.expand(np.array(states, dtype=np.int64))
        got = Counter((states[p], kernel.actions[a], tuple(t))
                      for p, a, t in zip(out.parents.tolist(), out.actions.tolist(), out.states.tolist()))
        failed = Counter((name, states[out.parents[i]], kernel.actions[out.actions[i]])
                         for name, where in out.failed.items() for i in where.tolist())
        if got != want:
            problems.append(f"{form} transitions: {len(got - want)} extra, {len(want - got)} missing, "
                            f"e.g. {next(iter((got - want) or (want - got)))}")
        if failed != want_failed:
            problems.append(f"{form} violations: {sum(failed.values())} vs {sum(want_failed.values())}")
        if dict(out.counted) != {name: want_counted[name] for name in out.counted}:
            problems.append(f"{form} counts: {out.counted} vs {dict(want_counted)}")
    return problems


def kernel_of(model):
    kernel = ReferenceBatch.for_model(model)
    assert kernel is not None
    return kernel


def kernels_of(model):
    """Both batch forms: numpy's, and the compiled loop (its differential test is this one)."""
    compiled = CompiledReferenceBatch.for_model(model)
    assert compiled is not None
    return [kernel_of(model), compiled]


@pytest.mark.parametrize("policy", policy_names())
@pytest.mark.parametrize("point", [(1, 1, 0), (2, 1, 0), (2, 1, 2), (3, 1, 0)])
def test_batch_successors_are_the_models_on_small_worlds(point, policy):
    model = CowWorld.reference(*point).model(policy, CHECKS)
    assert mismatches(model, kernels_of(model)) == []


@pytest.mark.parametrize("point, policy", [((2, 2, 0), "mapcount"), ((2, 2, 0), "page_count"),
                                           ((2, 2, 0), "anon_exclusive"), ((3, 1, 1), "gup_cow_break"),
                                           ((3, 1, 1), "andrea_cor"), ((3, 1, 1), "page_count_fork_copy")])
def test_batch_successors_are_the_models_on_larger_worlds(point, policy):
    model = CowWorld.reference(*point).model(policy, CHECKS + ("no_leak_to_child", "no_leak_to_parent"))
    assert mismatches(model, kernels_of(model)) == []


@pytest.mark.slow
@pytest.mark.parametrize("policy", policy_names())
@pytest.mark.parametrize("point", [(2, 2, 0), (3, 1, 1), (2, 2, 1)])
def test_batch_successors_are_the_models_everywhere(point, policy):
    model = CowWorld.reference(*point).model(policy, CHECKS)
    assert mismatches(model, kernels_of(model)) == []


@pytest.mark.parametrize("actions", [{"write", "read", "fork", "munmap"}, {"write", "fork", "vmsplice", "pipe_read"},
                                     {"write", "read", "fork", "spec_get", "spec_put"}])
def test_narrowed_worlds_too(actions):
    for policy in ("mapcount", "page_count", "anon_exclusive"):
        model = CowWorld(processes=2, addresses=2, speculative=1, actions=frozenset(actions)).model(policy, CHECKS)
        assert mismatches(model, kernels_of(model)) == [], (actions, policy)


@pytest.mark.parametrize("form", [ReferenceBatch, CompiledReferenceBatch], ids=lambda f: f.__name__)
def test_the_comparison_catches_a_wrong_rule(form):
    model = CowWorld.reference(2, 1, 0).model("page_count", CHECKS)
    kernel = form.for_model(model)
    kernel._write_fault[:] = 0  # always reuse: the mapcount era's leak, not page_count's rule
    assert mismatches(model, kernel) != []


def test_worlds_it_does_not_cover_use_the_model_itself():
    scripted = CowWorld.scripted({"parent": ["store a0", "fork", "store a0"], "child1": ["load a0"]})
    assert not isinstance(scripted.model("page_count", ["no_leak_to_child"]), Batched)
    ghost = CowWorld.reference(2, 1, 0).model("page_count", ["no_lost_write"])
    assert not isinstance(ghost, Batched) and ReferenceBatch.for_model(ghost) is None
    assert check(ghost, SearchOptions(stop_at_first=False)).figures["store"] == "dict"


def test_a_default_run_of_the_reference_world_uses_the_batch_form_and_counts_the_same():
    model = CowWorld.reference(2, 2, 0).model("page_count", ["no_leak_across_fork"])
    fast = check(model, SearchOptions(stop_at_first=False))
    plain = check(model, SearchOptions(stop_at_first=False, store="dict"))
    numpy = check(model, SearchOptions(stop_at_first=False, store="compact"))
    assert fast.figures["store"] == "compiled" and plain.figures["store"] == "dict"
    assert fast.figures["batched"] and numpy.figures["batched"]
    assert isinstance(model.batch_successors(compiled=True), CompiledReferenceBatch)
    assert type(model.batch_successors()) is ReferenceBatch
    for run in (fast, numpy):
        assert (run.stats.states, run.stats.transitions, run.counts) == (17352, 175748, plain.counts)


def test_without_numba_the_default_is_the_numpy_path(monkeypatch):
    from modelcheck.cow import compiled_batch
    from modelcheck.engine import compiled_store

    monkeypatch.setattr(compiled_store, "available", lambda: False)
    monkeypatch.setattr(compiled_batch, "numba_present", lambda: False)
    model = CowWorld.reference(2, 1, 0).model("page_count", ["no_leak_across_fork"])
    run = check(model, SearchOptions(stop_at_first=False))
    assert run.figures["store"] == "compact" and run.figures["batched"]
    assert type(model.batch_successors(compiled=True)) is ReferenceBatch


# -- branches no shipped policy takes in the reference world, by policies made up for the test -------------

class _CopiesReferencedAtFork(PageCountPolicy):
    name = "test_fork_copy"

    def fork_page(self, page: PageInfo) -> ForkPage:  # copy a page someone else holds a reference to
        return ForkPage.COPY if page.refcount > page.mapcount else ForkPage.SHARE


class _UnsharesOnReadGup(PageCountPolicy):
    name = "test_unshare"

    def read_gup_unshares(self, request, page: PageInfo) -> bool:
        return True

    def unshare(self, page: PageInfo) -> Unshare:
        return Unshare.KEEP if page.mapcount == 1 else Unshare.COPY


class _WaitsWhenShared(PageCountPolicy):
    name = "test_wait"

    def write_fault(self, page: PageInfo) -> WriteFault:
        return WriteFault.WAIT if page.refcount > 2 else super().write_fault(page)


@pytest.mark.parametrize("policy", [_CopiesReferencedAtFork(), _UnsharesOnReadGup(), _WaitsWhenShared()],
                         ids=lambda p: p.name)
def test_every_branch_of_the_batch_form(policy):
    model = CowWorld.reference(2, 1, 1).model(policy, CHECKS)
    assert isinstance(model, Batched)
    assert mismatches(model, kernels_of(model)) == []
    fired = check(model, SearchOptions(stop_at_first=False)).covered
    assert {"test_fork_copy": {"fork_copy"}, "test_unshare": {"unshare_copy", "unshare_keep"},
            "test_wait": {"copy"}}[policy.name] <= set(fired)


@pytest.mark.parametrize("point, policy", [((2, 2, 0), "page_count"), ((2, 1, 2), "mapcount"),
                                           ((3, 1, 1), "anon_exclusive"), ((2, 2, 1), "gup_cow_break")])
def test_batch_representatives_are_the_models(point, policy):
    model = CowWorld.reference(*point).model(policy, CHECKS)
    states = reachable(model)
    got = kernel_of(model).canonical_rows(np.array(states, dtype=np.int64))
    assert [model.canonical(s) for s in states] == [tuple(row) for row in got.tolist()]


def test_both_ways_of_ordering_pages_agree():
    rng = np.random.default_rng(3)
    first = rng.integers(0, 6, size=(2000, 7))
    contents = np.where(rng.random((2000, 7)) < 0.5, rng.integers(0, 3, size=(2000, 7)) << 32, 0)
    assert (page_order(first, contents, 6) == page_order(first, contents, 6, one_key=False)).all()


def test_every_batch_routine_is_the_twin_a_mechanism_names():
    """Each mechanism the batch form restates on columns names its twin (registry.batch_twin): every twin
    named exists, and every routine of the batch form is named by one (or restates nothing: NOT_TWINS)."""
    import inspect

    from modelcheck.cow import batch, capabilities  # noqa: F401  (every declaration: the model, its checks)
    from modelcheck.cow.registry import BATCH_TWINS

    def written_here(value) -> bool:  # a function of batch.py's own text
        value = value.__func__ if isinstance(value, staticmethod) else value
        return inspect.isfunction(value) and value.__code__.co_filename == batch.__file__

    routines = {name for name, value in vars(batch).items() if written_here(value)}
    for cls in (value for value in vars(batch).values() if inspect.isclass(value)):
        routines |= {f"{cls.__name__}.{name}" for name, value in vars(cls).items() if written_here(value)}
    claimed = {twin for twins in BATCH_TWINS.values() for twin in twins}
    for twin in claimed:
        owner, _, name = twin.rpartition(".")
        assert hasattr(getattr(batch, owner) if owner else batch, name), f"{twin} is named but not in batch.py"
    assert routines - batch.NOT_TWINS == claimed, (routines - batch.NOT_TWINS) ^ claimed
    assert not claimed & batch.NOT_TWINS


def test_the_compiled_loop_mirrors_every_batch_routine_a_mechanism_names():
    """Each routine of the numpy form that restates a mechanism (registry.batch_twin) is mirrored in the
    compiled loop, which names it where it does; symmetry and the leak tables the compiled form takes from
    the numpy form as they are (it inherits canonical_rows and the tables its __init__ builds)."""
    import inspect

    from modelcheck.cow import capabilities, compiled_loop  # noqa: F401  (every declaration)
    from modelcheck.cow.registry import BATCH_TWINS

    inherited = {"ReferenceBatch.canonical_rows", "page_order", "ReferenceBatch._leak_table"}
    claimed = {twin for twins in BATCH_TWINS.values() for twin in twins} - inherited
    text = inspect.getsource(compiled_loop)
    assert claimed and not {twin for twin in claimed if twin.rpartition(".")[2] not in text}
    assert not {name for name in ("canonical_rows", "_leak_table") if name in vars(CompiledReferenceBatch)}
