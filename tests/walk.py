"""Walking a model by action labels, for tests of the world's rules."""


def follow(model, *labels):
    """Take the actions with these labels from the initial state (each must be enabled there).

    Returns the actions taken and the state reached.
    """
    state = model.initial_states()[0]
    acts = []
    for label in labels:
        enabled = {model.action_label(a): (a, t) for a, t in model.successors(state)}
        assert label in enabled, f"{label!r} not enabled; enabled: {sorted(enabled)}"
        act, state = enabled[label]
        acts.append(act)
    return acts, state


def labels_enabled(model, state) -> set[str]:
    return {model.action_label(a) for a, _ in model.successors(state)}
