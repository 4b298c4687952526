"""Decide whether model files are safe to load, without executing anything in them.

``modelyard.scan(path)`` (this module is callable) and ``modelyard.scan.scan(path)`` return a
``ScanReport``; ``safe_load`` / ``safe_loads`` unpickle with only allow-listed globals (imported
on first use, with the policy, which a scan needs only for pickles that import something).

The records a scan makes (findings, options, streams, the pickle machine's events and values)
are named tuples or slotted classes, not dataclasses: ``dataclasses`` imports ``inspect``, which
was a fifth of the instructions of ``modelyard scan`` on a small pickle, and Python 3.11 defines
a dataclass several times slower than a named tuple. ``tests/cli/test_scan.py`` keeps both
modules out of a scan's start-up.
"""

from __future__ import annotations

import sys
import types
from typing import TYPE_CHECKING, Any

from modelyard.scan.api import scan, scan_file
from modelyard.scan.errors import ForbiddenGlobalError, ScanError, UnknownRuleError
from modelyard.scan.options import ScanOptions
from modelyard.scan.report import FileResult, Finding, ScanReport, Severity, Verdict
from modelyard.scan.rules import RULES, Rule, explain

if TYPE_CHECKING:
    from modelyard.scan.safe_pickle import safe_load, safe_loads

__all__ = [
    "RULES",
    "FileResult",
    "Finding",
    "ForbiddenGlobalError",
    "Rule",
    "ScanError",
    "ScanOptions",
    "ScanReport",
    "Severity",
    "UnknownRuleError",
    "Verdict",
    "explain",
    "safe_load",
    "safe_loads",
    "scan",
    "scan_file",
]


def __getattr__(name: str) -> Any:
    if name in ("safe_load", "safe_loads"):
        from modelyard.scan import safe_pickle

        return getattr(safe_pickle, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class _CallableModule(types.ModuleType):
    """Lets ``modelyard.scan(path)`` work as well as ``modelyard.scan.scan(path)``."""

    def __call__(self, *paths: Any, **kwargs: Any) -> ScanReport:
        return scan(*paths, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
