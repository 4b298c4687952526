"""MLflow's scoring protocol: ``dataframe_split``, ``dataframe_records``, ``instances``,
``inputs`` (JSON) and CSV bodies in, ``{"predictions": [...]}`` out. Parquet and Arrow IPC
stream bodies are taken too, for bulk scoring."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Any, Literal

from modelyard.serve.errors import InvalidInputError, UnsupportedMediaTypeError
from modelyard.serve.inputs import check_rows, records_to_columns
from modelyard.serve.model import Rows, ServedModel
from modelyard.serve.protocol import MlflowRequest, parse

BodyFormat = Literal["json", "csv", "parquet", "arrow"]
"""How an ``/invocations`` body is encoded, told by its ``Content-Type``."""

MEDIA_TYPES: dict[str, BodyFormat] = {
    "application/json": "json",
    "text/csv": "csv",
    "application/vnd.apache.parquet": "parquet",
    "application/x-parquet": "parquet",
    "application/vnd.apache.arrow.stream": "arrow",
}


def body_format(content_type: str | None) -> BodyFormat:
    """The format named by a ``Content-Type`` header; raises ``UnsupportedMediaTypeError``."""
    media = (content_type or "").split(";", 1)[0].strip().lower()
    found = MEDIA_TYPES.get(media)
    if found is None:
        raise UnsupportedMediaTypeError(
            f"cannot read a body of type {media or '(none)'!r}; send one of "
            + ", ".join(MEDIA_TYPES)
        )
    return found


def decode(served: ServedModel, body: bytes, fmt: BodyFormat, *, max_rows: int) -> Rows:
    """The checked rows of an ``/invocations`` body for ``served``."""
    if fmt == "csv":
        return _csv(served, body, max_rows)
    if fmt in ("parquet", "arrow"):
        return _arrow(served, body, fmt, max_rows)
    request = parse(MlflowRequest, body)
    given = [name for name, value in request if value is not None]
    if len(given) != 1:
        raise InvalidInputError(
            "send exactly one of dataframe_split, dataframe_records, instances or inputs"
        )
    names = served.feature_names
    if request.dataframe_split is not None:
        split = request.dataframe_split
        return served.table_rows(records_to_columns(split.data, split.columns), max_rows=max_rows)
    if request.dataframe_records is not None:
        return served.table_rows(
            records_to_columns(request.dataframe_records, names), max_rows=max_rows
        )
    instances = request.instances if request.instances is not None else request.inputs
    if isinstance(instances, dict):
        return served.table_rows(instances, max_rows=max_rows)
    assert instances is not None
    if served.kind != "table":
        return _tensor(served, instances, max_rows)
    return served.table_rows(records_to_columns(instances, names), max_rows=max_rows)


def _tensor(served: ServedModel, instances: Sequence[Any], max_rows: int) -> Rows:
    import numpy as np

    try:
        array = np.asarray(instances, dtype="float32")
    except (ValueError, TypeError):
        raise InvalidInputError("instances must be numbers of one regular shape") from None
    return served.tensor_rows(array.ravel().tolist(), list(array.shape), "FP32", max_rows=max_rows)


def _csv(served: ServedModel, body: bytes, max_rows: int) -> Rows:
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInputError("the CSV body is not UTF-8") from None
    try:
        rows = list(csv.reader(io.StringIO(text)))
    except csv.Error as error:
        raise InvalidInputError(f"the CSV body is malformed: {error}") from None
    rows = [row for row in rows if row]
    if len(rows) < 2:
        raise InvalidInputError("the CSV body needs a header row and at least one data row")
    header, data = rows[0], rows[1:]
    if any(len(row) != len(header) for row in data):
        raise InvalidInputError(f"every CSV row must have {len(header)} fields, like the header")
    columns = {name: [row[i] for row in data] for i, name in enumerate(header)}
    return served.table_rows(columns, max_rows=max_rows, from_text=True)


def _arrow(served: ServedModel, body: bytes, fmt: BodyFormat, max_rows: int) -> Rows:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        if fmt == "parquet":
            table = pq.read_table(pa.BufferReader(body))
        else:
            table = pa.ipc.open_stream(pa.BufferReader(body)).read_all()
    except (pa.ArrowException, OSError):
        raise InvalidInputError(f"the body is not a readable {fmt} stream") from None
    check_rows(table.num_rows, max_rows)
    wanted = set(served.feature_names)
    columns: dict[str, list[Any]] = {}
    for name in table.column_names:
        if name not in wanted:  # extra columns are ignored, so never converted
            continue
        column = table.column(name)
        values = column.to_pylist()
        if pa.types.is_timestamp(column.type) or pa.types.is_date(column.type):
            values = [None if value is None else value.isoformat() for value in values]
        columns[name] = values
    return served.table_rows(columns, max_rows=max_rows)
