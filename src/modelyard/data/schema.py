"""Detect what each column is, so preprocessing can treat it right."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class ColumnKind(StrEnum):
    NUMERIC = "numeric"
    BOOLEAN = "boolean"
    CATEGORICAL = "categorical"
    TEXT = "text"
    DATETIME = "datetime"


@dataclass
class Schema:
    """Kinds of the feature columns that are used, and the columns dropped with the reason."""

    columns: dict[str, ColumnKind]
    dropped: dict[str, str] = field(default_factory=dict)

    def of(self, kind: ColumnKind) -> list[str]:
        return [name for name, found in self.columns.items() if found is kind]

    def to_dict(self) -> dict[str, Any]:
        return {
            "columns": [{"name": name, "type": str(kind)} for name, kind in self.columns.items()],
            "dropped": self.dropped,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Schema:
        return cls(
            {column["name"]: ColumnKind(column["type"]) for column in data["columns"]},
            dict(data.get("dropped", {})),
        )


# A string column is text (not a category) when its values are long and mostly distinct.
_TEXT_MEAN_LENGTH = 30
_TEXT_DISTINCT_SHARE = 0.5
# A string column with a distinct value on nearly every row is an ID (names, ticket codes),
# unless its values are free text: several words each, on average.
_ID_DISTINCT_SHARE = 0.9
_TEXT_MIN_WORDS = 3.0
_WORD_SAMPLE = 1000


def infer_schema(frame: Any) -> Schema:
    """Kinds of the columns of a pandas frame; ID-like and empty columns are dropped."""
    import pandas as pd

    columns: dict[str, ColumnKind] = {}
    dropped: dict[str, str] = {}
    rows = len(frame)
    for name in frame.columns:
        series = frame[name]
        present = series.dropna()
        if present.empty:
            dropped[str(name)] = "every value is missing"
            continue
        if pd.api.types.is_bool_dtype(series):
            columns[str(name)] = ColumnKind.BOOLEAN
        elif pd.api.types.is_datetime64_any_dtype(series):
            columns[str(name)] = ColumnKind.DATETIME
        elif pd.api.types.is_numeric_dtype(series):
            if _is_row_number(present, rows):
                dropped[str(name)] = "an ID or row number (a distinct integer per row)"
                continue
            columns[str(name)] = ColumnKind.NUMERIC
        else:
            kind = _string_kind(present, rows)
            if kind is None:
                dropped[str(name)] = "an ID (a distinct value on nearly every row)"
                continue
            columns[str(name)] = kind
        if rows > 1 and _constant(present):
            columns.pop(str(name))
            dropped[str(name)] = "the same value in every row"
    return Schema(columns, dropped)


def _constant(values: Any) -> bool:
    """Whether every value equals the first (one vectorized comparison, no hashing)."""
    array = values.to_numpy()
    try:
        return bool((array == array[0]).all())
    except (TypeError, ValueError):  # values that cannot be compared elementwise
        return values.nunique() == 1


def _is_row_number(values: Any, rows: int) -> bool:
    import pandas as pd

    if not pd.api.types.is_integer_dtype(values) or rows < 20 or len(values) != rows:
        return False
    if values.nunique() != rows:
        return False
    ordered = values.sort_values().to_numpy()
    # Row numbers and surrogate keys: distinct and (almost) consecutive.
    return bool(ordered[-1] - ordered[0] <= 2 * rows)


def _string_kind(values: Any, rows: int) -> ColumnKind | None:
    import pandas as pd

    numbers = pd.to_numeric(values, errors="coerce")
    if numbers.notna().all():  # numbers stored as strings or objects
        return ColumnKind.NUMERIC
    as_text = values.astype(str)
    if rows >= 20:
        parsed = pd.to_datetime(as_text.head(200), errors="coerce", format="mixed", utc=True)
        if parsed.notna().mean() > 0.95 and as_text.str.len().head(200).min() >= 6:
            return ColumnKind.DATETIME
    distinct = values.nunique()
    if rows >= 20 and distinct >= _ID_DISTINCT_SHARE * len(values):
        words = as_text.head(_WORD_SAMPLE).str.split().str.len().mean()
        return ColumnKind.TEXT if words >= _TEXT_MIN_WORDS else None
    mean_length = as_text.str.len().mean()
    if mean_length >= _TEXT_MEAN_LENGTH and distinct >= _TEXT_DISTINCT_SHARE * len(values):
        return ColumnKind.TEXT
    return ColumnKind.CATEGORICAL
