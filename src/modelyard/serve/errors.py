"""Errors of the prediction server; each carries the HTTP status it is answered with.

* ServeError
  + InvalidInputError (400): the request body does not fit the protocol or the model's schema
  + ModelNotFoundError (404)
  + PayloadTooLargeError (413): the body or its rows exceed a limit
  + UnsupportedMediaTypeError (415)
  + QueueFullError (429)
  + NotReadyError (503): still loading, or draining for shutdown
  + PredictionTimeoutError (504)
  + ModelFailedError (500): the model itself raised
  + SourceError: a SOURCE given to ``modelyard serve`` cannot be served (raised at start-up)
"""

from __future__ import annotations

from typing import ClassVar

from modelyard.errors import ModelyardError


class ServeError(ModelyardError):
    """Base class of every serving error; ``status`` is its HTTP status code."""

    status: ClassVar[int] = 500


class InvalidInputError(ServeError):
    status = 400


class ModelNotFoundError(ServeError):
    status = 404


class PayloadTooLargeError(ServeError):
    status = 413


class UnsupportedMediaTypeError(ServeError):
    status = 415


class QueueFullError(ServeError):
    status = 429


class NotReadyError(ServeError):
    status = 503


class PredictionTimeoutError(ServeError):
    status = 504


class ModelFailedError(ServeError):
    status = 500


class SourceError(ServeError):
    """A SOURCE is neither a package folder nor a hub repo id, or cannot be loaded."""

    exit_code = 2
