"""O16: page_maybe_dma_pinned() takes 1024 plain references for a pin.

On a small page a FOLL_PIN adds 1024 to the refcount, and
page_maybe_dma_pinned() answers "refcount >= 1024". The kernel's comment on
it admits false positives: enough plain references (FOLL_GET from O_DIRECT,
pipe buffers filled by vmsplice, each a reference) look like a pin. Here the
parent pins a1 (so its mm has pinned, the gate of both checks), then resets
soft-dirty and forks; nobody pins a0. With 1023 references more than its
mapping, clear_refs leaves a0 writable (9348b73c2e1b) and fork copies it
(70e806e4e645; in 5.19, 6c287605fd56 for an exclusive page).

No explicit run reaches 1023 references. Here they are references held outside
the scenario on a0's page, their number unknown and fixed for the run (z3
decides each test of it, the state keeps what was learnt as an interval): z3
finds the count, and the counterexample replays on the explicit world with
that many references taken first.
"""

from modelcheck import Spec
from modelcheck.cow import CowWorld

SPEC = Spec(
    id="O16",
    title="page_maybe_dma_pinned() false positive: 1024 plain references",
    world=lambda: CowWorld.scripted({
        "parent": ["pin_rw a1 -> dev", "clear_refs", "fork", "put dev"],
    }).with_unknown_holders(0),
    invariants=["pin_checks_exact"],
    expect={
        "page_count": "holds",             # 09854ba94c6a alone has no maybe-pinned check
        "page_count_early_cow": "violated",  # 70e806e4e645 (fork)
        "page_count_fork_copy": "violated",  # 9348b73c2e1b (clear_refs), 70e806e4e645 (fork)
        "anon_exclusive": "violated",        # the same clear_refs check; fork: exclusive and maybe pinned
    },
)
