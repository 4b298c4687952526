"""Errors raised by the scanner's public functions (a bad file never raises: it gets a verdict)."""

from __future__ import annotations

# pickle.UnpicklingError is this class; importing it from the C module spares a scan, which
# loads nothing, the import of pickle itself.
from _pickle import UnpicklingError

from modelyard.errors import ModelyardError


class ScanError(ModelyardError):
    """The scan itself could not run (for example, a path that does not exist)."""

    exit_code = 2


class UnknownRuleError(ScanError):
    """``--explain`` was given an ID no rule has."""


class ForbiddenGlobalError(ModelyardError, UnpicklingError):
    """``safe_load`` met a global that is not on the allow list; nothing was executed."""
