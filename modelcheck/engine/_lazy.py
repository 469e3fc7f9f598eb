"""numpy, imported on first use: the packed stores are registered with every run, used by few.

A run of a scripted scenario needs none of numpy and should not pay for
loading it; modules that register numpy-backed things at import use this proxy.
"""

from __future__ import annotations

import importlib
from typing import Any


class LazyModule:
    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attribute: str) -> Any:
        module = importlib.import_module(self._name)
        self.__dict__.update(vars(module))  # later look-ups are plain attribute hits
        return getattr(module, attribute)


numpy: Any = LazyModule("numpy")
