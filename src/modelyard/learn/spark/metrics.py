"""Metrics computed by Spark's evaluators, next to the data (nothing is collected)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal, cast

from modelyard.learn.spark.schema import Task
from modelyard.learn.spark.stages import FEATURES, LABEL

if TYPE_CHECKING:
    from pyspark.ml.evaluation import Evaluator
    from pyspark.sql import DataFrame

# The metric compare ranks by; higher is better for each of them.
PRIMARY: dict[Task, str] = {
    "classification": "accuracy",
    "regression": "r2",
    "clustering": "silhouette",
}


def metric_names(task: Task, classes: int = 0) -> list[str]:
    """The metrics reported for ``task`` (ROC AUC only for two classes)."""
    if task == "classification":
        return ["accuracy", "f1", "roc_auc"] if classes == 2 else ["accuracy", "f1"]
    return ["rmse", "mae", "r2"] if task == "regression" else ["silhouette"]


def score(predictions: DataFrame, names: list[str]) -> dict[str, float]:
    """Each metric of ``names`` on a transformed frame holding ``LABEL`` (unless clustering).

    The columns the evaluators read are cached once, so the pipeline runs once for all of them.
    """
    from pyspark.storagelevel import StorageLevel

    evaluators = {name: _evaluator(name) for name in names}
    read = {column for evaluator in evaluators.values() for column in _inputs(evaluator)}
    needed = predictions.select(*sorted(read)).persist(StorageLevel.MEMORY_AND_DISK)
    try:
        return {name: evaluator.evaluate(needed) for name, evaluator in evaluators.items()}
    finally:
        needed.unpersist()


def _inputs(evaluator: Evaluator) -> list[str]:
    names = ("labelCol", "predictionCol", "rawPredictionCol", "featuresCol")
    return [evaluator.getOrDefault(name) for name in names if evaluator.hasParam(name)]


def _evaluator(name: str) -> Evaluator:
    from pyspark.ml.evaluation import (
        BinaryClassificationEvaluator,
        ClusteringEvaluator,
        MulticlassClassificationEvaluator,
        RegressionEvaluator,
    )

    if name in ("accuracy", "f1"):
        classification = cast(Literal["accuracy", "f1"], name)
        return MulticlassClassificationEvaluator(labelCol=LABEL, metricName=classification)
    if name == "roc_auc":
        return BinaryClassificationEvaluator(labelCol=LABEL, metricName="areaUnderROC")
    if name == "silhouette":
        return ClusteringEvaluator(featuresCol=FEATURES, metricName="silhouette")
    regression = cast(Literal["rmse", "mae", "r2"], name)
    return RegressionEvaluator(labelCol=LABEL, metricName=regression)
