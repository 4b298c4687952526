"""Read tabular and array data files into a frame with a detected schema."""

from __future__ import annotations

from modelyard.data.reading import Dataset, read_dataset, split_target
from modelyard.data.schema import ColumnKind, Schema, infer_schema

__all__ = ["ColumnKind", "Dataset", "Schema", "infer_schema", "read_dataset", "split_target"]
