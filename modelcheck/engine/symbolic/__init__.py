"""z3, once: the solver wrapper and the symbolic front-ends the engine and the world build on.

The engine's lowest layer: it imports nothing else of modelcheck (``tests/test_layers.py``).

Nothing here knows what is searched. ``solver`` turns z3's third answer,
``unknown``, into an exception, so that no caller can read it as sat or unsat.
Importing this package does not load z3 (explicit runs never need it); its
modules do.
"""


class SolverGaveUp(Exception):
    """z3 answered unknown (a resource limit): the question has no answer to build on."""


__all__ = ["SolverGaveUp"]
