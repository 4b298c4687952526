"""modelyard: train, scan, share and serve machine-learning models.

The public API mirrors the CLI. Names are imported lazily so that ``import modelyard`` stays
fast and pulls in no machine-learning framework until one is used.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_PUBLIC: dict[str, str] = {
    "train": "modelyard.learn.api",
    "compare": "modelyard.learn.api",
    "load": "modelyard.package.store",
    "scan": "modelyard.scan.api",
    "push": "modelyard.hub.client",
    "pull": "modelyard.hub.client",
}

__all__ = ["__version__", *_PUBLIC]


def __getattr__(name: str) -> Any:
    module_name = _PUBLIC.get(name)
    if module_name is None:
        raise AttributeError(f"module 'modelyard' has no attribute {name!r}")
    return getattr(importlib.import_module(module_name), name)
