"""scikit-learn's ``TargetEncoder`` as ONNX lookups, for the target-encoded columns of a table.

A fitted encoder maps each category of a column to one value (binary and continuous targets)
or one per class (multiclass), and every category it did not see to the target's mean. A
missing value is a category of its own when the training rows had one, else unseen too; the
ONNX model's string inputs hold ``""`` for a missing value.
"""

from __future__ import annotations

from typing import Any

from sklearn.base import BaseEstimator, TransformerMixin

from modelyard.convert.converter_graph import ConverterGraph
from modelyard.convert.errors import ConvertError


class TargetEncoding(TransformerMixin, BaseEstimator):
    """A fitted ``TargetEncoder`` whose output is in ``double`` precision (else float32)."""

    def __init__(self, encoder: Any = None, double: bool = False) -> None:
        self.encoder = encoder
        self.double = double


def _lookup_tables(encoder: Any) -> list[tuple[list[str], Any]]:
    """Per column, the keys of its categories (``""`` for missing) and the encodings: one row
    per key, then the target mean for every other value; one column per class (multiclass)."""
    import numpy as np

    per_column = len(encoder.encodings_) // len(encoder.categories_)
    means = np.asarray(encoder.target_mean_, dtype=np.float64).reshape(1, per_column)
    tables = []
    for index, categories in enumerate(encoder.categories_):
        encodings = encoder.encodings_[index * per_column : (index + 1) * per_column]
        keys = ["" if _is_missing(category) else str(category) for category in categories]
        if keys.count("") > 1:
            raise ConvertError(
                f"column {encoder.feature_names_in_[index]!r} has both empty and missing "
                "values, which the ONNX model's string input cannot tell apart",
                hint="make the empty values missing (or give them a name) and train again",
            )
        rows = np.stack([np.asarray(values, np.float64) for values in encodings], axis=1)
        tables.append((keys, np.concatenate([rows, means])))
    return tables


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and value != value)


def _shape(operator: Any) -> None:
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType

    encoder = operator.raw_operator.encoder
    tensor = DoubleTensorType if operator.raw_operator.double else FloatTensorType
    operator.outputs[0].type = tensor([None, len(encoder.encodings_)])


def _convert(scope: Any, operator: Any, container: Any) -> None:
    """Each column's category found by a ``LabelEncoder`` (unknown: the last row), then its
    row of encodings gathered in double precision."""
    graph = ConverterGraph(scope, container)
    inputs = [variable.full_name for variable in operator.inputs]
    columns = graph.node("Concat", inputs, axis=1) if len(inputs) > 1 else inputs[0]
    encoded = []
    for index, (keys, table) in enumerate(_lookup_tables(operator.raw_operator.encoder)):
        column = graph.node("Gather", [columns, graph.constant("column", [index])], axis=1)
        row = graph.node(
            "LabelEncoder",
            [column],
            op_domain="ai.onnx.ml",
            op_version=2,
            keys_strings=keys,
            values_int64s=list(range(len(keys))),
            default_int64=len(keys),
        )
        values = graph.node("Gather", [graph.constant("encodings", table), row], axis=0)
        shape = graph.constant("shape", [-1, table.shape[1]])
        encoded.append(graph.node("Reshape", [values, shape]))
    joined = graph.node("Concat", encoded, axis=1) if len(encoded) > 1 else encoded[0]
    graph.cast_to_output(joined, operator.outputs[0])


def register() -> None:
    """Register the ``TargetEncoding`` converter with skl2onnx."""
    from skl2onnx import update_registered_converter

    update_registered_converter(TargetEncoding, "ModelyardTargetEncoding", _shape, _convert)
