"""Decide from the Spark schema, and one pass of statistics, what each column is.

Like the single-machine path: numeric and boolean columns are features, strings with few
values are categories, dates become numbers, and columns that cannot help (empty, constant,
row numbers, unique or high-cardinality strings, nested types) are dropped and reported.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from modelyard.learn.spark.errors import SparkDataError

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, Row
    from pyspark.sql.types import DataType

Kind = Literal["numeric", "boolean", "categorical", "datetime"]
Task = Literal["classification", "regression", "clustering"]

MAX_CATEGORIES = 100
MAX_CLASSES = 1000
# An integer target with at most this many values is taken for class labels.
MAX_INTEGER_CLASSES = 20
MIN_ROWS = 10
# Below this many rows, strings that are all different may still be categories.
MIN_UNIQUE_ROWS = 20
PROFILE_SAMPLE_ROWS = 200_000


@dataclass(frozen=True)
class FeatureColumn:
    """An input column the model uses: its name, Spark type and how it is encoded."""

    name: str
    dtype: str
    kind: Kind


@dataclass(frozen=True)
class FeaturePlan:
    """The columns kept as features and those dropped, with the reason for each."""

    columns: list[FeatureColumn]
    dropped: dict[str, str] = field(default_factory=dict)
    rows: int = 0

    def of_kind(self, *kinds: Kind) -> list[str]:
        return [column.name for column in self.columns if column.kind in kinds]


@dataclass(frozen=True)
class TargetPlan:
    """The task and, for classification, the class labels in index order."""

    task: Task
    classes: list[str] = field(default_factory=list)


def require_columns(frame: DataFrame, names: list[str], path: str) -> None:
    """Raise ``SparkDataError`` naming the columns of ``names`` that ``frame`` lacks."""
    missing = [name for name in names if name not in frame.columns]
    if missing:
        raise SparkDataError(
            f"{path} has no column {', '.join(map(repr, missing))}",
            hint=f"its columns are {', '.join(frame.columns)}",
        )


def plan_features(frame: DataFrame, *, exclude: tuple[str, ...] = ()) -> FeaturePlan:
    """Profile every column but ``exclude`` (two Spark jobs) and sort them into kinds."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import (
        BooleanType,
        DateType,
        IntegralType,
        NumericType,
        StringType,
        TimestampNTZType,
        TimestampType,
    )

    candidates = [f for f in frame.schema.fields if f.name not in exclude]
    exact = [F.count(F.lit(1)).alias("rows")]
    for i, f in enumerate(candidates):
        column = F.col(quoted(f.name))
        exact.append(F.count(column).alias(f"n{i}"))
        if isinstance(f.dataType, IntegralType):
            exact += [F.min(column).alias(f"lo{i}"), F.max(column).alias(f"hi{i}")]
    row = frame.agg(*exact).first()
    assert row is not None  # an aggregate without grouping always yields one row
    rows = int(row["rows"])
    if rows < MIN_ROWS:
        raise SparkDataError(f"the data has {rows} rows; training needs at least {MIN_ROWS}")
    # Distinct counts only decide a column's kind, so a sample is enough: counting them over
    # every row would cost more than everything else in this pass together.
    fraction = min(1.0, PROFILE_SAMPLE_ROWS / rows)
    sample = frame.sample(fraction=fraction, seed=0) if fraction < 1.0 else frame
    distinct_row = sample.agg(
        F.count(F.lit(1)).alias("rows"),
        *[
            F.approx_count_distinct(F.col(quoted(f.name))).alias(f"d{i}")
            for i, f in enumerate(candidates)
        ],
    ).first()
    assert distinct_row is not None
    scale = rows / max(1, int(distinct_row["rows"]))

    kept: list[FeatureColumn] = []
    dropped: dict[str, str] = {}
    for i, f in enumerate(candidates):
        present = int(row[f"n{i}"])
        # A column that is unique in the sample is taken as unique in the table.
        sampled = int(distinct_row[f"d{i}"])
        distinct = sampled if sampled <= MAX_CATEGORIES else round(sampled * scale)
        dtype: DataType = f.dataType
        kind: Kind | None = None
        if present == 0:
            dropped[f.name] = "empty"
        elif distinct <= 1:
            dropped[f.name] = "constant"
        elif isinstance(dtype, BooleanType):
            kind = "boolean"
        elif isinstance(dtype, IntegralType) and _is_row_number(row, i, distinct, rows):
            dropped[f.name] = "row number (ID-like)"
        elif isinstance(dtype, NumericType):
            kind = "numeric"
        elif isinstance(dtype, DateType | TimestampType | TimestampNTZType):
            kind = "datetime"
        elif isinstance(dtype, StringType):
            if distinct >= 0.9 * present >= 0.9 * MIN_UNIQUE_ROWS:
                dropped[f.name] = "unique strings (ID-like)"
            elif distinct <= MAX_CATEGORIES:
                kind = "categorical"
            else:
                dropped[f.name] = f"over {MAX_CATEGORIES} distinct strings (too many categories)"
        else:
            dropped[f.name] = f"unsupported type {dtype.simpleString()}"
        if kind is not None:
            kept.append(FeatureColumn(f.name, dtype.simpleString(), kind))
    if not kept:
        raise SparkDataError(
            "no usable feature columns",
            hint="; ".join(f"{name}: {why}" for name, why in dropped.items()) or None,
        )
    return FeaturePlan(kept, dropped, rows)


def plan_target(frame: DataFrame, target: str, task: str) -> TargetPlan:
    """Settle ``task`` ("auto", "classification" or "regression") and the class labels."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import BooleanType, IntegralType, NumericType, StringType

    dtype = frame.schema[target].dataType
    if task == "auto":
        if isinstance(dtype, StringType | BooleanType):
            task = "classification"
        elif isinstance(dtype, IntegralType):
            distinct = frame.select(target).distinct().limit(MAX_INTEGER_CLASSES + 1).count()
            task = "classification" if distinct <= MAX_INTEGER_CLASSES else "regression"
        else:
            task = "regression"
    if task == "regression":
        if not isinstance(dtype, NumericType):
            raise SparkDataError(
                f"target {target!r} is {dtype.simpleString()}, regression needs numbers",
                hint="use --task classification",
            )
        return TargetPlan("regression")
    if task != "classification":
        raise SparkDataError(
            f"unknown task {task!r}", hint="use auto, classification or regression"
        )
    labels = F.col(quoted(target)).cast("string").alias("label")
    rows = (
        frame.select(labels).where("label IS NOT NULL").distinct().limit(MAX_CLASSES + 1).collect()
    )
    classes = sorted((r["label"] for r in rows), key=_class_order)
    if len(classes) > MAX_CLASSES:
        raise SparkDataError(f"target {target!r} has more than {MAX_CLASSES} classes")
    if len(classes) < 2:
        raise SparkDataError(
            f"target {target!r} has {len(classes)} class{'es' if not classes else ''}; "
            "classification needs at least two"
        )
    return TargetPlan("classification", classes)


def _is_row_number(row: Row, i: int, distinct: int, rows: int) -> bool:
    """Consecutive integers, one per row: a row number or an auto-increment key."""
    low, high = row[f"lo{i}"], row[f"hi{i}"]
    return int(row[f"n{i}"]) == rows and high - low + 1 == rows and distinct >= 0.9 * rows


def _class_order(label: str) -> tuple[int, float, str]:
    try:
        return (0, float(label), label)
    except ValueError:
        return (1, 0.0, label)


def quoted(name: str) -> str:
    """``name`` as a Spark SQL identifier (backticks, so spaces and dots are safe)."""
    return "`" + name.replace("`", "``") + "`"
