"""Errors about the data a user gives (file, columns, target)."""

from __future__ import annotations

from modelyard.errors import ModelyardError


class DataError(ModelyardError, ValueError):
    """The data cannot be used as given (a ``ValueError``, as scikit-learn expects)."""

    exit_code = 2


class UnreadableDataError(DataError):
    """The file is missing, in an unknown format, or malformed."""


class MissingColumnError(DataError):
    """A column the job needs is not in the data."""


class UnusableTargetError(DataError):
    """The target cannot be learned (one class, all missing, ...)."""


class UnparsedValuesWarning(UserWarning):
    """Values of a column could not be read as its type and were treated as missing."""
