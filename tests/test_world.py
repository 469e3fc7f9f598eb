"""The COW world's rules one by one, and the reference world's exact counts."""

import pytest

from modelcheck.cow import CowWorld, WorldError
from modelcheck.cow.policies import PageInfo, WriteFault, get_policy, policy_names
from modelcheck.engine import SearchOptions, Verdict, check, replay
from walk import follow


def model(policy="mapcount", P=2, M=1, S=0, invariants=("no_leak_across_fork",)):
    return CowWorld.reference(P, M, S).model(policy, invariants)


def enabled(m, state):
    return {m.action_label(a): after for a, after in m.successors(state)}


def run(m, *labels):
    """Follow ``labels`` from the initial state; the JSON picture of the state reached."""
    return m.state_to_json(follow(m, *labels)[1])


def test_initial_state_maps_each_address_writable_to_its_own_page():
    s = run(model(M=2))
    assert s["processes"] == {"parent": {"pte": {"a0": {"page": 0, "writable": True},
                                                  "a1": {"page": 1, "writable": True}}, "pipe": None}}
    assert s["pages"] == {"0": {"value": [0, 0], "mapcount": 1, "refcount": 1, "spec": 0},
                          "1": {"value": [0, 0], "mapcount": 1, "refcount": 1, "spec": 0}}


def test_fork_write_protects_both_ptes_and_shares_the_page():
    s = run(model(M=2), "parent munmap(a1)", "parent fork()")
    assert s["nforks"] == 1
    assert s["processes"]["parent"]["pte"] == {"a0": {"page": 0, "writable": False}, "a1": None}
    assert s["processes"]["child1"]["pte"] == {"a0": {"page": 0, "writable": False}, "a1": None}
    assert s["processes"]["child1"]["pipe"] is None
    assert s["pages"]["0"]["mapcount"] == 2 and s["pages"]["0"]["refcount"] == 2


def test_fork_is_bounded_by_P():
    m = model(P=2)
    initial = m.initial_states()[0]
    assert "parent fork()" in enabled(m, initial)
    after_fork = enabled(m, initial)["parent fork()"]
    assert "parent fork()" not in enabled(m, after_fork)
    assert "child1 write(a0)" in enabled(m, after_fork)


def test_page_is_freed_exactly_when_its_refcount_reaches_zero():
    s = run(model(P=1), "parent vmsplice(a0)", "parent munmap(a0)")
    assert s["pages"]["0"] == {"value": [0, 0], "mapcount": 0, "refcount": 1, "spec": 0}
    s = run(model(P=1), "parent vmsplice(a0)", "parent munmap(a0)", "parent pipe_read()")
    assert s["pages"] == {}


def test_speculative_reference_keeps_a_page_alive_and_its_put_frees_it():
    m = model(P=1, S=1)
    s = run(m, "kernel spec_get(page 0)", "parent munmap(a0)")
    assert s["pages"]["0"]["refcount"] == 1 and s["pages"]["0"]["spec"] == 1
    assert run(m, "kernel spec_get(page 0)", "parent munmap(a0)", "kernel spec_put(page 0)")["pages"] == {}


def test_speculative_references_are_bounded_by_S():
    m = model(P=1, M=2, S=1)
    state = enabled(m, m.initial_states()[0])["kernel spec_get(page 0)"]
    labels = set(enabled(m, state))
    assert not any(label.startswith("kernel spec_get") for label in labels)
    assert "kernel spec_put(page 0)" in labels


def test_copy_takes_the_lowest_free_page_slot():
    # pages 0 and 1 are the parent's; after munmap(a0) slot 0 is free again
    s = run(model(M=2), "parent munmap(a0)", "parent fork()", "child1 write(a1)")
    assert s["processes"]["child1"]["pte"]["a1"] == {"page": 0, "writable": True}
    assert s["pages"]["0"]["value"] == [1, 0]
    s = run(model(M=2), "parent fork()", "child1 write(a1)")
    assert s["processes"]["child1"]["pte"]["a1"] == {"page": 2, "writable": True}


def test_write_through_a_writable_pte_changes_only_the_value():
    s = run(model(M=1), "parent fork()", "parent write(a0)", "parent write(a0)")
    assert s["processes"]["parent"]["pte"]["a0"]["writable"] is True


@pytest.mark.parametrize("policy, counts, decision", [
    ("mapcount", PageInfo(mapcount=1, refcount=1), WriteFault.REUSE),
    ("mapcount", PageInfo(mapcount=1, refcount=2), WriteFault.REUSE),   # the pipe's reference is ignored
    ("mapcount", PageInfo(mapcount=2, refcount=2), WriteFault.COPY),
    ("page_count", PageInfo(mapcount=1, refcount=1), WriteFault.REUSE),
    ("page_count", PageInfo(mapcount=1, refcount=2), WriteFault.COPY),  # any extra reference copies
    ("page_count", PageInfo(mapcount=2, refcount=2), WriteFault.COPY),
])
def test_each_policy_reuse_or_copy_decision(policy, counts, decision):
    assert get_policy(policy).write_fault(counts) is decision


def test_policies_decide_the_cve_fault_differently_in_the_world():
    steps = ("parent fork()", "child1 vmsplice(a0)", "child1 munmap(a0)", "parent write(a0)")
    reused = run(model("mapcount"), *steps)
    assert reused["processes"]["parent"]["pte"]["a0"] == {"page": 0, "writable": True}
    copied = run(model("page_count"), *steps)
    assert copied["processes"]["parent"]["pte"]["a0"] == {"page": 1, "writable": True}
    assert copied["pages"]["0"] == {"value": [0, 0], "mapcount": 0, "refcount": 1, "spec": 0}


def test_registry_lists_every_policy_oldest_first_and_refuses_others():
    assert policy_names() == ["dirty_cow", "mapcount", "gup_cow_break", "page_count", "page_count_early_cow",
                              "page_count_fork_copy",
                              "refcount_5_18", "anon_exclusive", "anon_exclusive_6_2", "per_vma_lock_6_4",
                              "odirect_pins_6_5", "uffd_wp_async_6_7", "uffd_move_6_8",
                              "large_folio_6_9", "large_swapin_6_11", "huge_zero_thp_6_13", "mm_owner_6_15_rc1",
                              "mm_owner_6_15",
                              "mainline_7_3",
                              "andrea_cor", "jason_2020",
                              "page_count_refuse_wrprotect"]
    with pytest.raises(KeyError, match="unknown policy"):
        get_policy("nope")


@pytest.mark.parametrize("kwargs", [dict(processes=0), dict(addresses=0), dict(speculative=-1),
                                    dict(processes="2"), dict(actions={"teleport"})])
def test_bad_worlds_are_refused(kwargs):
    with pytest.raises(WorldError):
        CowWorld(**kwargs)


def test_held_references_need_their_slot_to_themselves():
    """Held references sit on the speculative-reference slot: a world with speculative events too, or
    on an address it does not have, is refused; a given count shows in the initial refcount."""
    with pytest.raises(WorldError, match="no speculative events"):
        CowWorld.scripted({"parent": ["store a0"]}, events=["spec"], speculative=1).with_unknown_holders(0) \
            .with_held_as_parameters()
    with pytest.raises(WorldError, match="a0..a0"):
        CowWorld(processes=1, addresses=1, speculative=1, held=((3, 1),))
    world = CowWorld.scripted({"parent": ["store a0"]}).with_unknown_holders(0).with_held_as_parameters() \
        .with_held_counts({0: 7})
    m = world.model("page_count", ["pin_checks_exact"])
    assert m.state_to_json(m.initial_states()[0])["pages"]["0"]["refcount"] == 8


# reference-world.md: distinct states with every reduction off
REFERENCE_COUNTS = [
    ((1, 1, 0), 4, 4),
    ((2, 1, 0), 92, 124),
    ((2, 2, 0), 5_518, 17_352),
    ((3, 1, 1), 10_318, 32_048),
]


@pytest.mark.parametrize("point, mapcount_states, page_count_states", REFERENCE_COUNTS)
@pytest.mark.parametrize("strategy", ["bfs", "dfs"])
def test_reference_state_counts(point, mapcount_states, page_count_states, strategy):
    for policy, expected in (("mapcount", mapcount_states), ("page_count", page_count_states)):
        result = check(model(policy, *point), SearchOptions(strategy=strategy, stop_at_first=False))
        assert result.stats.states == expected, (policy, point)


def test_known_count_from_the_spin_peer():
    # bench/spin README: W(2,2,1) 29,630 mapcount, 117,684 page_count
    assert check(model("mapcount", 2, 2, 1), SearchOptions(stop_at_first=False)).stats.states == 29_630


@pytest.mark.parametrize("point", [p for p, _, _ in REFERENCE_COUNTS] + [(2, 2, 1)])
def test_page_count_holds_and_mapcount_breaks_from_two_processes(point):
    assert check(model("page_count", *point)).verdict is Verdict.HOLDS
    expected = Verdict.VIOLATED if point[0] >= 2 else Verdict.HOLDS
    result = check(model("mapcount", *point))
    assert result.verdict is expected
    if expected is Verdict.VIOLATED:
        assert len(result.counterexample) == 5  # shortest, at every point measured


KNOWN_LEAKS = [
    # reference-world.md: the CVE direction, the reverse direction, and a third one
    ("parent fork()", "child1 vmsplice(a0)", "child1 munmap(a0)", "parent write(a0)", "child1 pipe_read()"),
    ("parent vmsplice(a0)", "parent fork()", "parent munmap(a0)", "child1 write(a0)", "parent pipe_read()"),
    ("parent fork()", "parent vmsplice(a0)", "parent write(a0)", "child1 write(a0)", "parent pipe_read()"),
]


@pytest.mark.parametrize("labels", KNOWN_LEAKS)
def test_known_counterexamples_leak_under_mapcount_only(labels):
    assert replay(model("mapcount"), "no_leak_across_fork", labels).ok
    outcome = replay(model("page_count"), "no_leak_across_fork", labels)
    assert not outcome.ok and "does not violate" in outcome.reason


def test_leak_direction_invariants_split_the_leaks():
    to_child, to_parent = KNOWN_LEAKS[0], KNOWN_LEAKS[1]
    assert replay(model(invariants=("no_leak_to_child",)), "no_leak_to_child", to_child).ok
    assert not replay(model(invariants=("no_leak_to_child",)), "no_leak_to_child", to_parent).ok
    assert replay(model(invariants=("no_leak_to_parent",)), "no_leak_to_parent", to_parent).ok
    assert not replay(model(invariants=("no_leak_to_parent",)), "no_leak_to_parent", to_child).ok


def test_inherited_values_are_not_leaks():
    # the child reads what the parent wrote before the fork: allowed
    labels = ("parent write(a0)", "parent fork()", "child1 read(a0)")
    assert not replay(model("mapcount"), "no_leak_across_fork", labels).ok


def test_the_parameters_range_of_held_references_is_the_worlds_bound():
    from modelcheck.cow.adapters import HELD_MOST
    from modelcheck.cow.world import MOST_HELD

    assert HELD_MOST == MOST_HELD
