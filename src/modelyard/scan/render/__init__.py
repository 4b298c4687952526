"""Renderings of a scan report: text for people, JSON and SARIF for programs.

Each is imported on first use, so a scan printed as text starts without ``json``; type checkers
see them through the ``TYPE_CHECKING`` imports below.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from modelyard.scan.render.json import to_json
    from modelyard.scan.render.sarif import to_sarif
    from modelyard.scan.render.text import to_text

_MODULES = {"to_json": "json", "to_sarif": "sarif", "to_text": "text"}

__all__ = ["to_json", "to_sarif", "to_text"]


def __getattr__(name: str) -> Any:
    module = _MODULES.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
