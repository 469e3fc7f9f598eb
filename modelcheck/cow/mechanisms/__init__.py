"""The kernel's mechanisms, one module each: plain functions of a ``Kernel`` (``cow.kernel``).

Each mechanism works on a mutable copy ``t`` of the state tuple and returns
the branch it took (a short name such as ``reuse`` or ``fork_copy``), or None
when the operation is not enabled in that state.
"""
