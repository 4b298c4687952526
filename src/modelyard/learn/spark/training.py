"""Train and compare models on Spark: the data stays in the cluster from read to metrics."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelyard.learn.backends import spark as registry
from modelyard.learn.results import HoldoutEvaluation, LeaderboardEntry, TrainSummary
from modelyard.learn.spark import packaging, session
from modelyard.learn.spark.errors import SparkDataError
from modelyard.learn.spark.metrics import PRIMARY, metric_names, score
from modelyard.learn.spark.reading import read_table
from modelyard.learn.spark.schema import (
    FeaturePlan,
    Task,
    plan_features,
    plan_target,
    quoted,
    require_columns,
)
from modelyard.learn.spark.stages import (
    FEATURES,
    LABEL,
    PREDICTED_LABEL,
    PREFIX,
    largest_category_count,
    preparation,
)

if TYPE_CHECKING:
    from pyspark.ml import PipelineModel
    from pyspark.sql import DataFrame, SparkSession

Progress = Callable[[int, int, str], None]
"""Called as ``progress(done, total, model_name)`` after each candidate of ``compare``."""

_FOLD = f"{PREFIX}fold"


@dataclass(frozen=True, kw_only=True)
class SparkTrainResult(TrainSummary):
    """What ``train`` fitted and how it scored on the hold-out rows."""

    backend: str = "spark"
    target: str | None
    classes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class SparkLeaderboard:
    """The result of ``compare``: candidates best first, ranked by ``metric``."""

    task: Task
    metric: str
    leaderboard: list[LeaderboardEntry]

    def to_dict(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "metric": self.metric,
            "leaderboard": [entry.to_dict() for entry in self.leaderboard],
        }


@dataclass(frozen=True)
class _Job:
    """The data and decisions shared by every model fitted on it."""

    frame: DataFrame
    task: Task
    target: str | None
    target_dtype: str | None
    classes: list[str]
    plan: FeaturePlan


def train(
    data: str,
    *,
    target: str | None = None,
    model: str | None = None,
    task: str = "auto",
    master: str = session.DEFAULT_MASTER,
    out: str | Path | None = None,
    seed: int = 0,
    holdout: float = 0.2,
    refit: bool = True,
    params: Mapping[str, Any] | None = None,
    conf: Mapping[str, str] | None = None,
) -> SparkTrainResult:
    """Fit ``model`` on ``data`` read by Spark, score it on a hold-out split, then (unless
    ``refit`` is false) refit it on every row, and save a package.

    Without ``model`` the default is XGBoost on Spark (random forest over Spark Connect);
    ``spark.kmeans`` clusters and needs no ``target``. ``params`` sets estimator parameters
    by their Spark names (``{"maxIter": 10}``, ``{"k": 5}``).
    """
    spark = session.start(master, conf=conf)
    frame = read_table(spark, data)
    spec = registry.get(model) if model else None
    if spec is None and target is None:
        spec = registry.MODELS["spark.kmeans"]
    job = _job(
        frame, data, target, task, clustering=spec is not None and spec.tasks == ("clustering",)
    )
    if spec is None:
        spec = registry.default_model(job.task, over_connect=session.is_connect_session(spark))
    spec.check(job.task, len(job.classes), over_connect=session.is_connect_session(spark))
    fitted_part, holdout_part = job.frame.randomSplit([1.0 - holdout, holdout], seed=seed)
    pipeline = _fit(spark, spec, job, fitted_part, seed, params)
    predictions = pipeline.transform(holdout_part)
    metrics = score(predictions, metric_names(job.task, len(job.classes)))
    evaluation = HoldoutEvaluation(job.frame.count(), holdout_part.count(), refitted=refit)
    if refit:
        pipeline = _fit(spark, spec, job, job.frame, seed, params)
    info = packaging.SparkPackageInfo(
        model=spec.name,
        task=job.task,
        target=job.target,
        target_dtype=job.target_dtype,
        inputs=job.plan.columns,
        classes=job.classes,
        dropped=job.plan.dropped,
        metrics=metrics,
        evaluation=evaluation.to_dict(),
        seed=seed,
    )
    package = packaging.save(pipeline, info, out) if out is not None else None
    return SparkTrainResult(
        model=spec.name,
        task=job.task,
        target=job.target,
        metrics=metrics,
        package=package,
        classes=job.classes,
        dropped=job.plan.dropped,
        evaluation=evaluation,
    )


def compare(
    data: str,
    *,
    target: str | None = None,
    models: list[str] | None = None,
    task: str = "auto",
    cv: int = 3,
    time_budget: float | None = None,
    master: str = session.DEFAULT_MASTER,
    seed: int = 0,
    conf: Mapping[str, str] | None = None,
    progress: Progress | None = None,
) -> SparkLeaderboard:
    """Cross-validate candidates on ``data``; best first by the task's primary metric.

    Without ``models``, every Spark model that can do the task on this session is a
    candidate. Once ``time_budget`` seconds have passed no further candidate starts (the
    first always runs).
    """
    if cv < 2:
        raise SparkDataError(f"cross-validation needs at least 2 folds, not {cv}")
    spark = session.start(master, conf=conf)
    frame = read_table(spark, data)
    job = _job(frame, data, target, task, clustering=target is None)
    over_connect = session.is_connect_session(spark)
    if models:
        candidates = [registry.get(name) for name in models]
        for spec in candidates:
            spec.check(job.task, len(job.classes), over_connect=over_connect)
    else:
        candidates = registry.runnable(job.task, len(job.classes), over_connect=over_connect)
    metric = PRIMARY[job.task]
    from pyspark.sql import functions as F
    from pyspark.storagelevel import StorageLevel

    folded = job.frame.withColumn(_FOLD, F.floor(F.rand(seed) * cv)).persist(
        StorageLevel.MEMORY_AND_DISK
    )
    started = time.perf_counter()
    entries: list[LeaderboardEntry] = []
    try:
        for done, spec in enumerate(candidates, start=1):
            if entries and time_budget is not None and time.perf_counter() - started > time_budget:
                break
            scores, seconds = [], []
            for fold in range(cv):
                fit_started = time.perf_counter()
                pipeline = _fit(spark, spec, job, folded.where(F.col(_FOLD) != fold), seed)
                seconds.append(time.perf_counter() - fit_started)
                held_out = pipeline.transform(folded.where(F.col(_FOLD) == fold))
                scores.append(score(held_out, [metric])[metric])
            entries.append(
                LeaderboardEntry(
                    spec.name,
                    "spark",
                    statistics.fmean(scores),
                    statistics.pstdev(scores),
                    statistics.fmean(seconds),
                )
            )
            if progress is not None:
                progress(done, len(candidates), spec.name)
    finally:
        folded.unpersist()
    entries.sort(key=lambda entry: entry.score, reverse=True)
    return SparkLeaderboard(job.task, metric, entries)


def with_label(frame: DataFrame, target: str, task: Task, classes: list[str]) -> DataFrame:
    """``frame`` without rows lacking the target, plus ``LABEL`` as Spark ML wants it.

    Class labels become their index in ``classes``; a class the model never saw gets -1,
    which no prediction matches.
    """
    from pyspark.sql import functions as F

    column = F.col(quoted(target))
    if task == "classification":
        known = F.array(*[F.lit(label) for label in classes])
        label = F.array_position(known, column.cast("string")) - 1
    else:
        label = column
    return frame.where(column.isNotNull()).withColumn(LABEL, label.cast("double"))


def _job(frame: DataFrame, data: str, target: str | None, task: str, *, clustering: bool) -> _Job:
    if target is not None:
        require_columns(frame, [target], data)
    if clustering:
        plan = plan_features(frame, exclude=(target,) if target else ())
        return _Job(frame, "clustering", None, None, [], plan)
    if target is None:
        raise SparkDataError("a target column is needed", hint="pass --target COLUMN")
    target_plan = plan_target(frame, target, task)
    plan = plan_features(frame, exclude=(target,))
    labelled = with_label(frame, target, target_plan.task, target_plan.classes)
    dtype = frame.schema[target].dataType.simpleString()
    return _Job(labelled, target_plan.task, target, dtype, target_plan.classes, plan)


def _fit(
    spark: SparkSession,
    spec: registry.SparkModel,
    job: _Job,
    rows: DataFrame,
    seed: int,
    params: Mapping[str, Any] | None = None,
) -> PipelineModel:
    """Fit preprocessing, then the estimator on the prepared rows, as one PipelineModel."""
    from pyspark.ml import Pipeline, PipelineModel
    from pyspark.ml.feature import IndexToString

    prepare = Pipeline(stages=preparation(job.plan, one_hot=spec.one_hot, scale=spec.scale))
    prepared_model = prepare.fit(rows)
    columns = [FEATURES] if job.task == "clustering" else [FEATURES, LABEL]
    # Spark's iterative estimators cache their own input when it is not cached already.
    prepared = prepared_model.transform(rows).select(*columns)
    settings = registry.FitSettings(
        features=FEATURES,
        label=LABEL,
        seed=seed,
        classes=len(job.classes),
        max_bins=max(32, largest_category_count(prepared_model)),
        workers=session.parallelism(spark),
    )
    estimator = spec.estimator(job.task, settings, params)
    fitted = registry.fit_estimator(estimator, prepared, LABEL, [])
    stages = [*prepared_model.stages, fitted]
    if job.task == "classification":
        stages.append(
            IndexToString(inputCol="prediction", outputCol=PREDICTED_LABEL, labels=job.classes)
        )
    return PipelineModel(stages)
