"""Check request values against a package's input schema and build the frame it predicts on.

JSON values must already have their column's type; CSV fields are text and are parsed by the
column's kind, so ``"02134"`` stays a string in a categorical column and ``"7"`` becomes 7.0 in
a numeric one. Extra columns are ignored; a missing column or a value of the wrong type is an
``InvalidInputError`` that names the column (never the value).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from modelyard.data.schema import ColumnKind, Schema
from modelyard.serve.errors import InvalidInputError, PayloadTooLargeError

EXPECTED: dict[ColumnKind, str] = {
    ColumnKind.NUMERIC: "a number",
    ColumnKind.BOOLEAN: "a boolean",
    ColumnKind.CATEGORICAL: "a string",
    ColumnKind.TEXT: "a string",
    ColumnKind.DATETIME: "an ISO 8601 date-time string",
}
"""What each kind of column accepts, as error messages say it."""

_TRUE = frozenset({"true", "t", "yes", "y", "1"})
_FALSE = frozenset({"false", "f", "no", "n", "0"})
_NaN = float("nan")
_JSON_NUMBERS = frozenset({int, float, type(None)})


class _WrongType(Exception):
    """A value does not fit its column (the message is built by the caller)."""


def _number(value: Any) -> float:
    if value is None:
        return _NaN
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _WrongType
    return float(value)


def _number_text(value: str | None) -> float:
    if value is None or value == "":
        return _NaN
    try:
        number = float(value)
    except ValueError:
        raise _WrongType from None
    if math.isinf(number) and value.strip().lower().lstrip("+-") not in ("inf", "infinity"):
        raise _WrongType
    return number


def _boolean(value: Any) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    raise _WrongType


def _boolean_text(value: str | None) -> bool | None:
    if value is None or value == "":
        return None
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise _WrongType


def _string(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise _WrongType


def _string_text(value: str | None) -> str | None:
    return None if value == "" else value


def _datetime(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise _WrongType
    try:
        datetime.fromisoformat(value)
    except ValueError:
        raise _WrongType from None
    return value


def _datetime_text(value: str | None) -> str | None:
    return None if value == "" else _datetime(value)


Converter = Callable[[Any], Any]
_FROM_JSON: dict[ColumnKind, Converter] = {
    ColumnKind.NUMERIC: _number,
    ColumnKind.BOOLEAN: _boolean,
    ColumnKind.CATEGORICAL: _string,
    ColumnKind.TEXT: _string,
    ColumnKind.DATETIME: _datetime,
}
_FROM_TEXT: dict[ColumnKind, Converter] = {
    ColumnKind.NUMERIC: _number_text,
    ColumnKind.BOOLEAN: _boolean_text,
    ColumnKind.CATEGORICAL: _string_text,
    ColumnKind.TEXT: _string_text,
    ColumnKind.DATETIME: _datetime_text,
}


def check_columns(
    columns: Mapping[str, Sequence[Any]],
    schema: Schema,
    *,
    max_rows: int,
    from_text: bool = False,
) -> dict[str, Any]:
    """The schema's columns as numpy arrays, each value checked against its kind.

    ``from_text`` parses CSV fields (strings, ``""`` for missing) instead of JSON values.

    Raises:
        InvalidInputError: a column is missing, columns differ in length, or a value has
            the wrong type.
        PayloadTooLargeError: more than ``max_rows`` rows.
    """
    import numpy as np

    missing = [name for name in schema.columns if name not in columns]
    if missing:
        raise InvalidInputError(f"missing column(s) the model needs: {', '.join(missing)}")
    lengths = {len(columns[name]) for name in schema.columns}
    if len(lengths) > 1:
        raise InvalidInputError("columns must all have the same number of rows")
    rows = lengths.pop() if lengths else 0
    if rows == 0:
        raise InvalidInputError("the request has no rows")
    check_rows(rows, max_rows)
    converters = _FROM_TEXT if from_text else _FROM_JSON
    data: dict[str, Any] = {}
    for name, kind in schema.columns.items():
        if kind is ColumnKind.NUMERIC and not from_text:
            block = numbers(columns[name])
            if block is not None:
                data[name] = block
                continue
        convert = converters[kind]
        try:
            values = [convert(value) for value in columns[name]]
        except (_WrongType, TypeError):
            raise InvalidInputError(
                f"column {name!r} must hold {EXPECTED[kind]} (or null) in every row"
            ) from None
        if kind is ColumnKind.NUMERIC:
            data[name] = np.asarray(values, dtype="float64")
        else:
            data[name] = np.asarray(values, dtype=object)
    return data


def numbers(values: Sequence[Any]) -> Any:
    """``values`` as a float64 array built in one numpy call when each is a JSON number or
    null (NaN), else ``None``; a float64 array is taken as it is."""
    import numpy as np

    if isinstance(values, np.ndarray):
        return values if values.dtype == np.float64 else None
    if set(map(type, values)) <= _JSON_NUMBERS:
        return np.asarray(values, dtype="float64")
    return None


def check_rows(rows: int, max_rows: int) -> None:
    """Raise ``PayloadTooLargeError`` past ``max_rows`` rows."""
    if rows > max_rows:
        raise PayloadTooLargeError(f"the request has {rows} rows; the limit is {max_rows}")


def records_to_columns(records: Sequence[Any], names: Sequence[str]) -> dict[str, list[Any]]:
    """Rows given as objects (``{"column": value}``) or as lists in ``names`` order."""
    if not records:
        raise InvalidInputError("the request has no rows")
    if all(isinstance(record, Mapping) for record in records):
        keys = dict.fromkeys(key for record in records for key in record)
        return {key: [record.get(key) for record in records] for key in keys}
    if all(isinstance(record, list) for record in records):
        if any(len(record) != len(names) for record in records):
            raise InvalidInputError(
                f"every row must hold {len(names)} values, in this order: {', '.join(names)}"
            )
        return {name: [record[i] for record in records] for i, name in enumerate(names)}
    raise InvalidInputError("rows must all be objects or all be lists of values")
