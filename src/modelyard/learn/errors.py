"""Errors from training, comparing and using models."""

from __future__ import annotations

from sklearn.exceptions import ConvergenceWarning as SklearnConvergenceWarning
from sklearn.exceptions import NotFittedError as SklearnNotFittedError

from modelyard.errors import ModelyardError


class LearnError(ModelyardError, ValueError):
    """A learning job cannot run as asked (a ``ValueError``, as scikit-learn expects)."""

    exit_code = 2


class UnknownModelError(LearnError):
    """No model has that name (or it is not installed)."""


class NotFittedError(LearnError, SklearnNotFittedError):
    """The model was used before ``fit``."""


class ConvergenceWarning(SklearnConvergenceWarning):
    """A Bayesian model's posterior draws did not converge (r-hat above 1.01)."""
