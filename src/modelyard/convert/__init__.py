"""Convert models between formats: other frameworks' files to ONNX packages, packages to ONNX."""

from __future__ import annotations

from modelyard.convert.errors import ConvertError, ParityError, UnsupportedLayerError

__all__ = ["ConvertError", "ParityError", "UnsupportedLayerError"]
