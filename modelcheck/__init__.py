"""modelcheck: exhaustively explore the interleavings of Linux copy-on-write policies.

Three layers that do not know each other's insides:

* ``modelcheck.engine``: states, actions, search, stores, traces (no word of pages);
* ``modelcheck.cow``: the copy-on-write world, its policies and invariants
  (no word of how it is searched);
* ``modelcheck.faces``: the command line and the reports, which only read results.

``modelcheck.spec`` and ``modelcheck.runner`` are the glue a spec file sees.
"""

__version__ = "0.1.0"

from modelcheck.spec import Spec, SpecError

__all__ = ["Spec", "SpecError", "__version__"]
