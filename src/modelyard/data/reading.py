"""Read CSV, TSV, Parquet, JSON lines, libsvm/svmlight and ``.npz`` arrays.

Tables come back as pandas frames; libsvm files as a scipy CSR matrix (kept sparse end to end);
``.npz`` files as n-dimensional arrays for image and sequence models.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from modelyard.data.errors import MissingColumnError, UnreadableDataError

DataKind = Literal["table", "sparse", "array"]

_SNIFF_BYTES = 1 << 16
_DELIMITERS = ",;\t|"
# A field that is a number with a decimal comma, between semicolons: 3,5 or -12,75.
_DECIMAL_COMMA = re.compile(r"(?:^|;)\s*-?\d+,\d+\s*(?:;|$)", re.MULTILINE)

_TABLE_SUFFIXES = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "json",
    ".libsvm": "libsvm",
    ".svmlight": "libsvm",
    ".svm": "libsvm",
    ".npz": "npz",
}


@dataclass
class Dataset:
    """Features ``X`` and, when present, the target ``y``.

    ``X`` is a pandas frame (tables), a scipy CSR matrix (libsvm) or a numpy array (``.npz``).
    """

    kind: DataKind
    X: Any
    y: Any = None
    target: str | None = None
    source: str = ""

    @property
    def rows(self) -> int:
        return int(self.X.shape[0])


def _format_of(path: Path) -> str:
    for suffix in reversed(path.suffixes):
        found = _TABLE_SUFFIXES.get(suffix.lower())
        if found:
            return found
    raise UnreadableDataError(
        f"cannot tell the format of {path.name}",
        hint="use .csv, .tsv, .parquet, .jsonl, .libsvm/.svmlight or .npz",
    )


def read_dataset(path: str | Path, target: str | None = None) -> Dataset:
    """Read ``path``; with ``target``, split that column (or ``.npz`` array) off as ``y``.

    Raises ``UnreadableDataError`` for missing, empty or malformed files and
    ``MissingColumnError`` when ``target`` is not in the data.
    """
    path = Path(path)
    if not path.is_file():
        raise UnreadableDataError(f"{path} does not exist or is not a file")
    kind = _format_of(path)
    try:
        if kind == "libsvm":
            return _read_libsvm(path, target)
        if kind == "npz":
            return _read_npz(path, target)
        frame = _read_table(path, kind)
    except (UnreadableDataError, MissingColumnError):
        raise
    except Exception as error:  # each reader has its own error types; all mean "malformed"
        raise UnreadableDataError(
            f"{path.name} is not a readable {kind} file: {str(error).splitlines()[0]}"
        ) from error
    if frame.shape[1] == 0 or frame.shape[0] == 0:
        raise UnreadableDataError(f"{path.name} has no rows or no columns")
    dataset = Dataset("table", frame, source=str(path))
    return split_target(dataset, target) if target else dataset


def _read_table(path: Path, kind: str) -> Any:
    import pandas as pd

    if kind == "csv":
        delimiter, decimal = sniff_csv(path)
        return pd.read_csv(path, sep=delimiter, decimal=decimal)
    if kind == "tsv":
        return pd.read_csv(path, sep="\t")
    if kind == "parquet":
        return pd.read_parquet(path)
    if kind == "json":
        with path.open("rb") as handle:
            first = handle.read(256).lstrip()[:1]
        if first == b"[":  # one JSON document: an array of records
            return pd.read_json(path)
    return pd.read_json(path, lines=True)


def sniff_csv(path: Path) -> tuple[str, str]:
    """The delimiter and decimal mark of a CSV file, from its first 64 KiB.

    Spreadsheets in much of Europe export ``;``-separated files with decimal commas; anything
    the sniffer cannot tell is read as ``,``-separated with decimal points.
    """
    with path.open(encoding="utf-8", errors="replace", newline="") as handle:
        sample = handle.read(_SNIFF_BYTES)
    if len(sample) == _SNIFF_BYTES:  # the last line may be cut short
        sample = sample[: sample.rfind("\n") + 1] or sample
    try:
        delimiter = csv.Sniffer().sniff(sample, delimiters=_DELIMITERS).delimiter
    except csv.Error:
        return ",", "."
    if delimiter == ";" and _DECIMAL_COMMA.search(sample):
        return delimiter, ","
    return delimiter, "."


def split_target(dataset: Dataset, target: str) -> Dataset:
    """Move the ``target`` column of a table into ``y``."""
    frame = dataset.X
    if target not in frame.columns:
        columns = ", ".join(map(str, frame.columns[:30]))
        raise MissingColumnError(
            f"target column {target!r} is not in the data",
            hint=f"the columns are: {columns}",
        )
    return Dataset(
        "table", frame.drop(columns=[target]), frame[target], target=target, source=dataset.source
    )


def drop_missing_target(dataset: Dataset) -> tuple[Dataset, int]:
    """``dataset`` without the rows whose target is missing, and how many those were."""
    import numpy as np
    import pandas as pd

    missing = np.asarray(pd.isna(dataset.y)).ravel()
    count = int(missing.sum())
    if not count:
        return dataset, 0
    keep = ~missing
    X = dataset.X.loc[keep] if dataset.kind == "table" else dataset.X[keep]
    y = dataset.y.loc[keep] if hasattr(dataset.y, "loc") else dataset.y[keep]
    return Dataset(dataset.kind, X, y, target=dataset.target, source=dataset.source), count


def _read_libsvm(path: Path, target: str | None) -> Dataset:
    from sklearn.datasets import load_svmlight_file

    try:
        X, y = load_svmlight_file(str(path))
    except ValueError as error:
        raise UnreadableDataError(f"{path.name} is not a valid libsvm file: {error}") from None
    if X.shape[0] == 0:
        raise UnreadableDataError(f"{path.name} has no rows")
    return Dataset("sparse", X.tocsr(), y, target=target or "label", source=str(path))


def _read_npz(path: Path, target: str | None) -> Dataset:
    import numpy as np

    with np.load(path, allow_pickle=False) as archive:
        names = list(archive.files)
        if "X" not in names:
            raise MissingColumnError(
                f"{path.name} has no array named 'X'", hint=f"its arrays are: {', '.join(names)}"
            )
        X = archive["X"]
        if target is None:
            return Dataset("array", X, source=str(path))
        if target not in names:
            raise MissingColumnError(
                f"target array {target!r} is not in {path.name}",
                hint=f"its arrays are: {', '.join(names)}",
            )
        y = archive[target]
    if len(X) != len(y):
        raise UnreadableDataError(f"{path.name}: X has {len(X)} rows but {target} has {len(y)}")
    return Dataset("array", X, y, target=target, source=str(path))
