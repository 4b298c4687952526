"""Errors of the Spark engine: each says what went wrong and what to do."""

from __future__ import annotations

from modelyard.errors import ModelyardError


class SparkEngineError(ModelyardError):
    """Base of every error the Spark engine raises on purpose."""


class JavaNotFoundError(SparkEngineError):
    """No Java runtime to start Spark with."""

    exit_code = 3


class MasterUnreachableError(SparkEngineError):
    """Nothing answers at the Spark master or Spark Connect address."""

    exit_code = 3


class SparkDataError(SparkEngineError):
    """The data path is missing, unreadable, or lacks what the job needs."""

    exit_code = 2


class SparkModelError(SparkEngineError):
    """An unknown model name, or a model that cannot run this task or on this master."""

    exit_code = 2


class SparkPackageError(SparkEngineError):
    """A Spark model package is malformed or holds something we refuse to load."""

    exit_code = 2
