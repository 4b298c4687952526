"""Preprocessing chosen from the schema and the model: it travels inside the package, so raw
new rows (unseen categories, missing values, extra or reordered columns) just work."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin

from modelyard.data.errors import MissingColumnError, UnparsedValuesWarning
from modelyard.data.schema import ColumnKind, Schema
from modelyard.learn.registry import ModelSpec

DATETIME_PARTS = ("year", "month", "day", "weekday", "hour")
"""The numbers a date column becomes, each a column ``{name}__{part}``."""
_PANDAS_NAMES = {"weekday": "day_of_week"}  # pandas 3 deprecates ``weekday``; same values
# Categories beyond this many per column are grouped as "infrequent" for one-hot encoding.
_MAX_ONE_HOT = 30
# Columns with more levels than this are target-encoded for every model: one-hot columns or
# native categories by the thousand let trees fit the training rows' noise.
MAX_CATEGORY_LEVELS = 50
HIGH_CARDINALITY = "high_cardinality"
"""The name of the target-encoded block in the fitted ``ColumnTransformer``."""
_TEXT_FEATURES = 2000


class ColumnCoercer(TransformerMixin, BaseEstimator):
    """Select the schema's columns by name and give each its kind's type.

    Numbers become floats (unparseable values missing), booleans 0/1, categories strings,
    dates their parts (year, month, day, weekday, hour), text strings. Extra columns are
    ignored; missing ones raise ``MissingColumnError`` naming them.
    """

    def __init__(self, schema: dict[str, str] | None = None) -> None:
        self.schema = schema

    def fit(self, X: Any, y: Any = None) -> ColumnCoercer:
        self.n_features_in_ = len(self.schema or {})
        return self

    def transform(self, X: Any) -> Any:
        import pandas as pd

        schema = self.schema or {}
        missing = [name for name in schema if name not in X.columns]
        if missing:
            raise MissingColumnError(
                f"the data lacks column(s) the model needs: {', '.join(missing)}",
                hint="add them (values may be empty) and try again",
            )
        columns: dict[str, Any] = {}
        as_given = True  # every column is the caller's own, so they need not be copied
        for name, kind in schema.items():
            values = X[name]
            if kind == ColumnKind.NUMERIC and values.dtype in ("float32", "float64"):
                columns[name] = values
                continue
            as_given = False
            if kind == ColumnKind.NUMERIC:
                numbers = pd.to_numeric(values, errors="coerce")
                _warn_unparsed(name, values, numbers)
                # float32 data stays float32 (half the memory); everything else becomes float64.
                columns[name] = numbers if numbers.dtype == "float32" else numbers.astype("float64")
            elif kind == ColumnKind.BOOLEAN:
                columns[name] = values.map(_as_flag).astype("float64")
            elif kind == ColumnKind.DATETIME:
                for part, numbers in date_parts(parse_datetimes(values)).items():
                    columns[f"{name}__{part}"] = numbers
            elif kind == ColumnKind.TEXT:
                columns[name] = values.fillna("").astype(str)
            else:
                columns[name] = values.map(_as_category).astype(object)
        if as_given:  # a selection: no copy with pandas' copy-on-write
            return X[list(columns)]
        return pd.DataFrame(columns, index=X.index)

    def get_feature_names_out(self, input_features: Any = None) -> Any:
        import numpy as np

        names: list[str] = []
        for name, kind in (self.schema or {}).items():
            if kind == ColumnKind.DATETIME:
                names.extend(f"{name}__{part}" for part in DATETIME_PARTS)
            else:
                names.append(name)
        return np.asarray(names, dtype=object)


class MeanImputer(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Replace each missing number (NaN) by its column's mean over the rows ``fit`` saw, or 0
    where that column had no numbers.

    Unlike scikit-learn's ``SimpleImputer`` it neither copies nor drops columns: complete rows
    pass through as they are, which on a million rows is most of what preprocessing costs.
    ``statistics_`` holds the means, as in ``SimpleImputer``.
    """

    def fit(self, X: Any, y: Any = None) -> MeanImputer:
        import numpy as np

        values = _floats(X)
        missing = np.isnan(values)
        counts = values.shape[0] - missing.sum(axis=0)
        present = np.where(missing, 0, values) if missing.any() else values
        sums = present.sum(axis=0, dtype="float64")
        self.statistics_ = np.divide(sums, counts, out=np.zeros_like(sums), where=counts > 0)
        self.n_features_in_ = values.shape[1]
        if hasattr(X, "columns"):
            self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        return self

    def transform(self, X: Any) -> Any:
        import numpy as np

        values = _floats(X)
        if values.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {values.shape[1]} features, but MeanImputer is expecting "
                f"{self.n_features_in_} features as input"
            )
        missing = np.isnan(values)
        if not missing.any():
            return values
        return np.where(missing, self.statistics_.astype(values.dtype), values)


def _floats(X: Any) -> Any:
    """``X`` as a float array: float32 stays float32, anything else becomes float64."""
    import numpy as np

    values = np.asarray(X)
    if values.dtype not in ("float32", "float64"):
        values = values.astype("float64")
    return values


def date_parts(stamps: Any) -> dict[str, Any]:
    """Each of ``DATETIME_PARTS`` of instants from ``parse_datetimes``, as a float series."""
    return {
        part: getattr(stamps.dt, _PANDAS_NAMES.get(part, part)).astype("float64")
        for part in DATETIME_PARTS
    }


def parse_datetimes(values: Any) -> Any:
    """``values`` (strings or datetimes) as UTC instants; unparseable or missing ones NaT.
    Strings may mix formats and time zones; those without a zone are taken as UTC."""
    import pandas as pd

    return pd.to_datetime(values, errors="coerce", format="mixed", utc=True)


def _warn_unparsed(name: str, values: Any, numbers: Any) -> None:
    """Warn (``UnparsedValuesWarning``) of values given but not read as numbers; empty
    strings count as missing."""
    from pandas.api.types import is_numeric_dtype

    if is_numeric_dtype(values):
        return
    unparsed = numbers.isna() & values.notna() & (values.astype(str).str.strip() != "")
    count = int(unparsed.sum())
    if count:
        example = values[unparsed].iloc[0]
        warnings.warn(
            f"column {name!r}: {count} value(s) are not numbers (such as {example!r}) and were "
            "treated as missing",
            UnparsedValuesWarning,
            stacklevel=2,
        )


def _as_flag(value: Any) -> float:
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in ("true", "yes", "y", "1", "t"):
            return 1.0
        if lowered in ("false", "no", "n", "0", "f"):
            return 0.0
        return float("nan")
    if value is None or value != value:  # None or NaN
        return float("nan")
    return float(bool(value))


def _as_category(value: Any) -> Any:
    if value is None or (isinstance(value, float) and value != value):
        return float("nan")
    return str(value)


def build_preprocessor(
    schema: Schema, spec: ModelSpec, *, levels: Mapping[str, int], seed: int
) -> tuple[Any, list[int]]:
    """The preprocessing pipeline for a table and the output columns that are categories.

    ``levels`` counts each categorical column's distinct values: those above
    ``MAX_CATEGORY_LEVELS`` are target-encoded, cross-fitted (each training row's code comes
    from the folds that exclude it; ``seed`` shuffles the folds), so the pipeline is fitted
    with the target. Category columns come first in the output, so their indices are
    ``0..k-1`` when the model handles categories natively (ordinal codes, unknown and missing
    as NaN).
    """
    import numpy as np
    from sklearn.compose import ColumnTransformer
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler

    many = [
        name for name in schema.of(ColumnKind.CATEGORICAL) if levels[name] > MAX_CATEGORY_LEVELS
    ]
    categorical = [name for name in schema.of(ColumnKind.CATEGORICAL) if name not in many]
    numeric = schema.of(ColumnKind.NUMERIC) + schema.of(ColumnKind.BOOLEAN)
    for name in schema.of(ColumnKind.DATETIME):
        numeric.extend(f"{name}__{part}" for part in DATETIME_PARTS)
    blocks: list[tuple[str, Any, Any]] = []
    if categorical:
        if spec.native_categorical:
            encoder: Any = OrdinalEncoder(
                handle_unknown="use_encoded_value",
                unknown_value=np.nan,
                encoded_missing_value=np.nan,
            )
        else:
            from sklearn.impute import SimpleImputer

            encoder = Pipeline(
                [
                    ("impute", SimpleImputer(strategy="constant", fill_value="(missing)")),
                    (
                        "one_hot",
                        OneHotEncoder(
                            handle_unknown="infrequent_if_exist", max_categories=_MAX_ONE_HOT
                        ),
                    ),
                ]
            )
        blocks.append(("categorical", encoder, categorical))
    if many:
        blocks.append((HIGH_CARDINALITY, _target_encoder(seed), many))
    if numeric:
        # The mean costs a pass over the data; a median would cost a sort.
        steps: list[tuple[str, Any]] = [("impute", MeanImputer())]
        if spec.needs_scaling:
            steps.append(("scale", StandardScaler()))
        blocks.append(("numeric", Pipeline(steps), numeric))
    for name in schema.of(ColumnKind.TEXT):
        blocks.append((f"text_{name}", TfidfVectorizer(max_features=_TEXT_FEATURES), name))
    columns = ColumnTransformer(
        blocks,
        remainder="drop",
        sparse_threshold=0.3 if spec.accepts_sparse else 0.0,
        verbose_feature_names_out=False,
    )
    coercer = ColumnCoercer({name: str(kind) for name, kind in schema.columns.items()})
    pipeline = Pipeline([("coerce", coercer), ("columns", columns)])
    native = list(range(len(categorical))) if spec.native_categorical else []
    return pipeline, native


def _target_encoder(seed: int) -> Any:
    """A cross-fitted ``TargetEncoder`` whose folds ``seed`` shuffles."""
    import sklearn
    from sklearn.model_selection import KFold
    from sklearn.preprocessing import TargetEncoder

    major, minor = (int(part) for part in sklearn.__version__.split(".")[:2])
    if (major, minor) >= (1, 9):  # shuffle and random_state moved into ``cv``
        return TargetEncoder(cv=KFold(5, shuffle=True, random_state=seed))
    return TargetEncoder(shuffle=True, random_state=seed)


def build_sparse_preprocessor(spec: ModelSpec) -> Any:
    """For libsvm data: scale without centring (keeps it sparse) when the model needs it."""
    from sklearn.preprocessing import FunctionTransformer, MaxAbsScaler

    return MaxAbsScaler() if spec.needs_scaling else FunctionTransformer(accept_sparse=True)
