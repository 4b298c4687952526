"""``modelyard.learn.api`` on the Spark engine: ``engine="spark"``, and Spark packages found by
their manifest."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelyard.learn.api import evaluate, predict, train
from modelyard.learn.spark import SparkTrainResult

pytestmark = pytest.mark.spark


def test_the_library_runs_spark_jobs_and_recognises_spark_packages(
    master: str, penguins_csv: Path, tmp_path: Path
) -> None:
    package = tmp_path / "package"

    result = train(
        penguins_csv,
        "sex",
        model="spark.logistic",
        out=package,
        engine="spark",
        spark_master=master,
    )
    # No engine given: the manifest says the package runs on Spark.
    predictions = predict(package, penguins_csv, spark_master=master)
    metrics = evaluate(package, penguins_csv, spark_master=master)

    assert isinstance(result, SparkTrainResult) and result.backend == "spark"
    assert "sex" in predictions.columns
    assert set(metrics) == {"accuracy", "f1", "roc_auc"}
