"""Spark ML preprocessing stages chosen from a ``FeaturePlan``.

All of them live inside the saved PipelineModel, so raw rows (missing values, unseen
categories, extra or reordered columns) go through exactly what training saw.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from modelyard.learn.spark.schema import FeaturePlan, quoted

if TYPE_CHECKING:
    from pyspark.ml import Estimator, PipelineModel, Transformer

# Our own columns carry this prefix so they never collide with the user's.
PREFIX = "__modelyard_"
FEATURES = f"{PREFIX}features"
LABEL = f"{PREFIX}label"
PREDICTED_LABEL = f"{PREFIX}predicted_label"

_DATE_PARTS = ("year", "month", "dayofmonth", "dayofweek")


def preparation(
    plan: FeaturePlan, *, one_hot: bool, scale: bool
) -> list[Estimator[Any] | Transformer]:
    """Unfitted stages that turn the plan's columns into one feature vector, ``FEATURES``."""
    from pyspark.ml.feature import (
        Imputer,
        OneHotEncoder,
        SQLTransformer,
        StandardScaler,
        StringIndexer,
        VectorAssembler,
    )

    statement, numbers, categories = _casts(plan)
    # One SQL stage casts every input, so a column read as int here and double there still fits.
    stages: list[Estimator[Any] | Transformer] = [SQLTransformer(statement=statement)]
    assembled: list[str] = []
    if numbers:
        imputed = [f"{name}_imputed" for name in numbers]
        stages.append(Imputer(inputCols=numbers, outputCols=imputed, strategy="mean"))
        assembled += imputed
    if categories:
        indexed = [f"{name}_index" for name in categories]
        stages.append(StringIndexer(inputCols=categories, outputCols=indexed, handleInvalid="keep"))
        if one_hot:
            encoded = [f"{name}_onehot" for name in categories]
            stages.append(
                OneHotEncoder(inputCols=indexed, outputCols=encoded, handleInvalid="keep")
            )
            assembled += encoded
        else:
            assembled += indexed
    vector = f"{PREFIX}unscaled" if scale else FEATURES
    stages.append(VectorAssembler(inputCols=assembled, outputCol=vector, handleInvalid="keep"))
    if scale:
        stages.append(StandardScaler(inputCol=vector, outputCol=FEATURES, withMean=False))
    return stages


def preparation_sql(plan: FeaturePlan) -> str:
    """The SQL statement of the first stage: what a package's stage must hold, exactly."""
    return _casts(plan)[0]


def _casts(plan: FeaturePlan) -> tuple[str, list[str], list[str]]:
    derived: list[str] = []
    numbers: list[str] = []
    categories: list[str] = []
    for i, column in enumerate(plan.columns):
        source = quoted(column.name)
        if column.kind == "categorical":
            categories.append(f"{PREFIX}cat_{i}")
            derived.append(f"CAST({source} AS STRING) AS `{categories[-1]}`")
        elif column.kind == "datetime":
            for part in _DATE_PARTS:
                numbers.append(f"{PREFIX}num_{i}_{part}")
                derived.append(f"CAST({part}({source}) AS DOUBLE) AS `{numbers[-1]}`")
        else:
            numbers.append(f"{PREFIX}num_{i}")
            derived.append(f"CAST({source} AS DOUBLE) AS `{numbers[-1]}`")
    # Every identifier is backtick-quoted by ``quoted``, so column names cannot inject SQL.
    statement = f"SELECT *, {', '.join(derived)} FROM __THIS__"  # noqa: S608
    return statement, numbers, categories


def largest_category_count(prepared: PipelineModel) -> int:
    """How many values the largest indexed category has (0 without categories)."""
    from pyspark.ml.feature import StringIndexerModel

    counts = [
        len(labels) + 1  # one more for the bucket of unseen values
        for stage in prepared.stages
        if isinstance(stage, StringIndexerModel)
        for labels in stage.labelsArray
    ]
    return max(counts, default=0)
