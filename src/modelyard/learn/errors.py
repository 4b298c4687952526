"""Errors from training, comparing and using models."""

from __future__ import annotations

from sklearn.exceptions import NotFittedError as SklearnNotFittedError

from modelyard.errors import ModelyardError


class LearnError(ModelyardError, ValueError):
    """A learning job cannot run as asked (a ``ValueError``, as scikit-learn expects)."""

    exit_code = 2


class UnknownModelError(LearnError):
    """No model has that name (or it is not installed)."""


class NotFittedError(LearnError, SklearnNotFittedError):
    """The model was used before ``fit``."""
