"""Errors from converting models between formats."""

from __future__ import annotations

from modelyard.errors import ModelyardError


class ConvertError(ModelyardError):
    """A model cannot be converted as asked (unreadable file, unsupported model)."""

    exit_code = 2


class UnsupportedLayerError(ConvertError):
    """The model uses a layer or operator modelyard does not convert; nothing was written."""


class ParityError(ConvertError):
    """The converted model does not compute what the original does; nothing was written."""

    exit_code = 1
