"""Predict with and evaluate a Spark model package, through Spark."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from modelyard.learn.spark import packaging, session
from modelyard.learn.spark.errors import SparkDataError
from modelyard.learn.spark.metrics import metric_names, score
from modelyard.learn.spark.reading import FORMATS, read_table, spark_path
from modelyard.learn.spark.schema import quoted, require_columns
from modelyard.learn.spark.stages import PREDICTED_LABEL, PREFIX
from modelyard.learn.spark.training import with_label

if TYPE_CHECKING:
    from pyspark.ml import PipelineModel
    from pyspark.sql import DataFrame

    from modelyard.learn.spark.packaging import SparkPackageInfo


def predict(
    package: str | Path,
    data: str,
    *,
    out: str | None = None,
    proba: bool = False,
    master: str = session.DEFAULT_MASTER,
    conf: Mapping[str, str] | None = None,
) -> DataFrame:
    """Predictions for the rows of ``data``: its columns plus one named after the target.

    With ``proba``, classifiers add ``proba_<class>`` per class. With ``out`` the result is
    written by Spark (a folder of part files; CSV, Parquet or JSON lines by extension); an
    existing ``out`` is never overwritten.
    """
    spark = session.start(master, conf=conf)
    pipeline, info = packaging.load(package, master=master)
    frame = read_table(spark, data)
    require_columns(frame, [column.name for column in info.inputs], data)
    result = _predictions(pipeline, info, frame, proba=proba)
    if out is not None:
        _write(result, out)
    return result


def evaluate(
    package: str | Path,
    data: str,
    *,
    master: str = session.DEFAULT_MASTER,
    conf: Mapping[str, str] | None = None,
) -> dict[str, float]:
    """The package's metrics on ``data``, which holds the target (unless it clusters)."""
    spark = session.start(master, conf=conf)
    pipeline, info = packaging.load(package, master=master)
    frame = read_table(spark, data)
    require_columns(frame, [column.name for column in info.inputs], data)
    if info.target is not None:
        require_columns(frame, [info.target], data)
        frame = with_label(frame, info.target, info.task, info.classes)
    return score(pipeline.transform(frame), metric_names(info.task, len(info.classes)))


def _predictions(
    pipeline: PipelineModel, info: SparkPackageInfo, frame: DataFrame, *, proba: bool
) -> DataFrame:
    from pyspark.ml.functions import vector_to_array
    from pyspark.sql import functions as F

    name = info.prediction_column
    kept = [F.col(quoted(c)) for c in frame.columns if c != name and not c.startswith(PREFIX)]
    transformed = pipeline.transform(frame)
    if info.task == "classification":
        predicted = F.col(PREDICTED_LABEL)
        if info.target_dtype not in (None, "string"):
            predicted = predicted.cast(info.target_dtype)
    elif info.task == "regression":
        predicted = F.col("prediction")
    else:
        predicted = F.col("prediction").cast("int")
    columns = [*kept, predicted.alias(name)]
    if proba and info.task == "classification":
        probabilities = vector_to_array(F.col("probability"))
        columns += [probabilities[i].alias(f"proba_{c}") for i, c in enumerate(info.classes)]
    return transformed.select(*columns)


def _write(result: DataFrame, out: str) -> None:
    from pyspark.errors import PySparkException

    fmt = FORMATS.get(Path(out.rstrip("/")).suffix.lower())
    if fmt is None or fmt == "tsv":
        raise SparkDataError(
            f"cannot tell which format to write {out} in", hint="end it in .csv, .parquet or .jsonl"
        )
    writer = result.write.mode("error").format(fmt)
    if fmt == "csv":
        writer = writer.option("header", True)
    try:
        writer.save(spark_path(out))
    except PySparkException as error:
        if "PATH_ALREADY_EXISTS" in str(error) or "already exists" in str(error):
            raise SparkDataError(
                f"{out} already exists", hint="choose another --out or remove it first"
            ) from None
        raise SparkDataError(f"cannot write {out}: {str(error).splitlines()[0]}") from error
