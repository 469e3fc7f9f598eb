"""Random scenarios under every policy: the world never crashes, never leaks or double-frees a page,
every counterexample it finds replays, and the symmetry reduction finds the same violations with
counterexamples of the same length, and so do the packed stores in one process and in two, and
dynamic partial-order reduction finds the same violations (its counterexamples replay).
Seeds are fixed, so a failure reproduces; FUZZ_SEEDS=1000
runs more of them. A scenario whose state space exceeds the bound is checked as far as it was explored."""

import random

import pytest

from modelcheck.cow import CowWorld
from modelcheck.cow.policies import policy_names
from modelcheck.engine import SearchOptions, Verdict, check, replay

ADDRESS_OPS = ["store", "load", "munmap", "mprotect_ro", "mprotect_rw", "dontfork", "vmsplice", "uffd_wp",
               "uffd_unwp", "pageout"]


def random_scenario(rng: random.Random):
    addrs = ["a0", "a1"][: rng.randint(1, 2)]
    holders = {}
    programs = {"parent": [], "child1": []} if rng.random() < 0.6 else {"parent": []}
    if rng.random() < 0.4:
        programs["parent.2"] = []
    forked = "child1" not in programs
    for thread in programs:
        proc = 1 if thread.startswith("child") else 0
        for _ in range(rng.randint(1, 4)):
            roll = rng.random()
            mine = [h for h, (p, _) in holders.items() if p == proc]
            if thread == "parent" and not forked and "child1" in programs and rng.random() < 0.35:
                programs[thread].append("fork")
                forked = True
            elif roll < 0.15:
                name = f"h{len(holders)}"
                kind = rng.choice(["get_ro", "get_rw", "pin_ro", "pin_rw"])
                holders[name] = (proc, kind)
                programs[thread].append(f"{kind} {rng.choice(addrs)} -> {name}")
            elif roll < 0.3 and mine:
                name = rng.choice(mine)
                ops = ["dma_read", "put"] + (["dma_write"] if holders[name][1].endswith("rw") else [])
                programs[thread].append(f"{rng.choice(ops)} {name}")
            elif roll < 0.35:
                programs[thread].append(rng.choice(["pipe_read", "clear_refs", "exit"]))
            else:
                addr = rng.choice(addrs) + (".1" if rng.random() < 0.15 else "")
                op = rng.choice(ADDRESS_OPS)
                programs[thread].append(f"{op} {addr.split('.')[0] if op not in ('store', 'load') else addr}")
    if "child1" in programs and not forked:
        programs["parent"].insert(0, "fork")
    events = [e for e in ("spec", "lru", "swap", "lock") if rng.random() < 0.25]
    return programs, events, rng.random() < 0.3


@pytest.mark.parametrize("seed", range(int(__import__("os").environ.get("FUZZ_SEEDS", "60"))))
def test_random_scenarios_keep_the_world_consistent(seed):
    rng = random.Random(seed)
    programs, events, tlb = random_scenario(rng)
    world = CowWorld.scripted(programs, events=events, tlb=tlb)
    for policy in policy_names():
        model = world.model(policy, ["refcount_sane", "no_lost_write", "no_leak_across_fork", "pin_coherent"])
        result = check(model, SearchOptions(stop_at_first=False, max_states=20_000))
        assert "refcount_sane" not in {v.property for v in result.violations}, (programs, events, tlb, policy)
        for violation in result.violations:
            trace = violation.trace
            outcome = replay(model, violation.property, trace.labels(),
                             recorded_states=[step.state for step in trace.steps])
            assert outcome.ok, (programs, events, tlb, policy, outcome.reason)
        # symmetry reduction: same verdict per property, a real execution of the same length as its trace
        if result.stats.states < 20_000:
            reduced = check(model, SearchOptions(stop_at_first=False, reduce=True))
            assert {v.property for v in reduced.violations} == {v.property for v in result.violations}, \
                (programs, events, tlb, policy)
            for plain, short in zip(sorted(result.violations, key=lambda v: v.property),
                                    sorted(reduced.violations, key=lambda v: v.property)):
                assert len(plain.trace) == len(short.trace), (programs, events, tlb, policy, plain.property)
                assert replay(model, short.property, short.trace.labels(),
                              recorded_states=[step.state for step in short.trace.steps]).ok
        # the packed stores, in one process and in two: the same exploration, counted exactly
        if result.stats.states < 20_000:
            configs = [dict(store="compact"), dict(store="compiled")]
            if policy == "page_count":
                configs.append(dict(store="fingerprint", workers=2))
            for config in configs:
                other = check(model, SearchOptions(stop_at_first=False, **config))
                assert (other.stats.states, other.stats.transitions, other.counts) == \
                    (result.stats.states, result.stats.transitions, result.counts), (programs, events, tlb, policy)
                assert sorted((v.property, v.count, len(v.trace)) for v in other.violations) == \
                    sorted((v.property, v.count, len(v.trace)) for v in result.violations), (programs, policy, config)
                for violation in other.violations:
                    assert replay(model, violation.property, violation.trace.labels(),
                                  recorded_states=[step.state for step in violation.trace.steps]).ok
        # DPOR: the same verdict per property wherever every execution is finite (else it says it fell back)
        if result.stats.states < 20_000:
            dpor = check(model, SearchOptions(strategy="dpor", stop_at_first=False, time_limit=20))
            if dpor.verdict is not Verdict.INCOMPLETE:
                assert {v.property for v in dpor.violations} == {v.property for v in result.violations}, \
                    (programs, events, tlb, policy, dpor.notes)
                assert dpor.stats.states <= result.stats.states
            for violation in dpor.violations:
                assert replay(model, violation.property, violation.trace.labels(),
                              recorded_states=[step.state for step in violation.trace.steps]).ok
