"""The words and JSON of states and steps need the world only, never a policy."""

from modelcheck.cow import CowWorld
from modelcheck.cow.kernel import Machine
from modelcheck.cow.render import Renderer

CVE = ("parent fork()", "child1 vmsplice(a0)", "child1 munmap(a0)", "parent write(a0)", "child1 pipe_read()")


def steps_of(model, labels):
    state = model.initial_states()[0]
    for label in labels:
        act, after = {model.action_label(a): (a, t) for a, t in model.successors(state)}[label]
        yield state, act, after
        state = after


def test_a_trace_renders_with_no_policy_bound():
    world = CowWorld(processes=2, addresses=1)
    words = Renderer(Machine.build(world, ("no_leak_to_child",), uses_exclusive=False))
    assert not hasattr(words.machine, "policy")
    model = world.model("mapcount", ["no_leak_to_child"])
    initial = model.initial_states()[0]
    assert words.state_to_json(initial) == {
        "nforks": 0, "processes": {"parent": {"pte": {"a0": {"page": 0, "writable": True}}, "pipe": None}},
        "pages": {"0": {"value": [0, 0], "mapcount": 1, "refcount": 1, "spec": 0}}}
    for before, act, after in steps_of(model, CVE):
        assert words.action_label(act) == model.action_label(act) and words.action_actor(act) == act.actor
        assert words.state_to_json(after) == model.state_to_json(after)
        assert words.describe_transition(before, act, after) == [
            line.replace("mapcount decides", "the policy decides")
            for line in model.describe_transition(before, act, after)]
    write = list(steps_of(model, CVE))[3]
    assert "write fault on read-only page 0 (mapcount 1, refcount 2): the policy decides reuse" in \
        words.describe_transition(*write)
    assert "child1 observes (0,1) [the parent's write after fork 1] on page 0" in \
        words.describe_transition(*list(steps_of(model, CVE))[4])


def test_a_scripted_step_renders_with_no_policy_bound():
    world = CowWorld.scripted({"parent": ["pin_rw a0 -> buf", "fork"]})
    words = Renderer(Machine.build(world, (), uses_exclusive=False), "some era")
    model = world.model("page_count_fork_copy", [])
    (before, act, after), = steps_of(model, ["parent pin_rw a0 -> buf"])
    assert words.action_label(act) == "parent pin_rw a0 -> buf"
    assert words.state_to_json(after)["holders"] == {"buf": 0}
    assert words.describe_transition(before, act, after) == ["parent mm: MMF_HAS_PINNED set", "pin_rw buf: empty -> page 0",
                                                             "page 0: value (0,0) mapcount 1 refcount 1 -> "
                                                             "value (0,0) mapcount 1 refcount 1025"]
