"""The Spark backend: the models the Spark engine trains, and how to fit, save and load them.

Models are pyspark.ml estimators, XGBoost on Spark, and KMeans. Each entry says which tasks it
serves and what preprocessing it needs (one-hot categories for linear models, scaling for
distances); trees take indexed categories as they are. Fitted models are Spark
``PipelineModel``s, saved in Spark's own format (JSON metadata and Parquet, nothing pickled).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelyard.learn.spark.errors import SparkModelError
from modelyard.learn.spark.schema import Task

if TYPE_CHECKING:
    from pyspark.ml import Estimator, PipelineModel, Transformer
    from pyspark.sql import DataFrame

NAME = "spark"


@dataclass(frozen=True)
class FitSettings:
    """What an estimator needs to know about the prepared data and the cluster."""

    features: str
    label: str
    seed: int
    classes: int
    # Trees need at least as many bins as the largest categorical feature has values.
    max_bins: int
    workers: int


@dataclass(frozen=True)
class SparkModel:
    """A named Spark estimator with the tasks it serves and the preprocessing it needs."""

    name: str
    summary: str
    builders: Mapping[Task, Callable[[FitSettings], Estimator]]
    one_hot: bool = False
    scale: bool = False
    max_classes: int | None = None
    over_connect: bool = True

    @property
    def tasks(self) -> tuple[Task, ...]:
        return tuple(self.builders)

    def check(self, task: Task, classes: int = 0, *, over_connect: bool = False) -> None:
        """Raise ``SparkModelError`` unless this model can do ``task`` with ``classes`` here."""
        if over_connect and not self.over_connect:
            raise SparkModelError(
                f"{self.name} cannot run over Spark Connect",
                hint="use spark.random_forest or spark.gbt, or a spark:// or local master",
            )
        if task not in self.builders:
            raise SparkModelError(
                f"{self.name} does not do {task}",
                hint=f"it does {', '.join(self.tasks)}; see `modelyard models`",
            )
        if self.max_classes is not None and classes > self.max_classes:
            raise SparkModelError(
                f"{self.name} handles at most {self.max_classes} classes, the target has {classes}",
                hint="use spark.xgboost, spark.random_forest or spark.logistic",
            )

    def estimator(
        self, task: Task, settings: FitSettings, params: Mapping[str, Any] | None = None
    ) -> Estimator:
        """A fresh, unfitted estimator for ``task``, with ``params`` set by their Spark names."""
        self.check(task, settings.classes)
        estimator = self.builders[task](settings)
        for name, value in (params or {}).items():
            if not estimator.hasParam(name):
                raise SparkModelError(
                    f"{self.name} has no parameter {name!r}",
                    hint=f"its parameters are {', '.join(p.name for p in estimator.params)}",
                )
            param = estimator.getParam(name)
            try:
                estimator.set(param, param.typeConverter(value))
            except TypeError as error:
                raise SparkModelError(f"{self.name}: bad value for {name!r}: {error}") from None
        return estimator


def _logistic(s: FitSettings) -> Estimator:
    from pyspark.ml.classification import LogisticRegression

    return LogisticRegression(featuresCol=s.features, labelCol=s.label, maxIter=100)


def _linear(s: FitSettings) -> Estimator:
    from pyspark.ml.regression import LinearRegression

    return LinearRegression(featuresCol=s.features, labelCol=s.label, maxIter=100)


def _forest_classifier(s: FitSettings) -> Estimator:
    from pyspark.ml.classification import RandomForestClassifier

    return RandomForestClassifier(
        featuresCol=s.features, labelCol=s.label, numTrees=50, maxBins=s.max_bins, seed=s.seed
    )


def _forest_regressor(s: FitSettings) -> Estimator:
    from pyspark.ml.regression import RandomForestRegressor

    return RandomForestRegressor(
        featuresCol=s.features, labelCol=s.label, numTrees=50, maxBins=s.max_bins, seed=s.seed
    )


def _gbt_classifier(s: FitSettings) -> Estimator:
    from pyspark.ml.classification import GBTClassifier

    return GBTClassifier(
        featuresCol=s.features, labelCol=s.label, maxIter=20, maxBins=s.max_bins, seed=s.seed
    )


def _gbt_regressor(s: FitSettings) -> Estimator:
    from pyspark.ml.regression import GBTRegressor

    return GBTRegressor(
        featuresCol=s.features, labelCol=s.label, maxIter=20, maxBins=s.max_bins, seed=s.seed
    )


def _xgboost_options(s: FitSettings) -> dict[str, Any]:
    # verbose=False keeps the per-round evaluation log off the console.
    return {
        "features_col": s.features,
        "label_col": s.label,
        "num_workers": s.workers,
        "n_estimators": 100,
        "random_state": s.seed,
        "verbose": False,
    }


def _xgboost_classifier(s: FitSettings) -> Estimator:
    from xgboost.spark import SparkXGBClassifier

    return SparkXGBClassifier(**_xgboost_options(s))


def _xgboost_regressor(s: FitSettings) -> Estimator:
    from xgboost.spark import SparkXGBRegressor

    return SparkXGBRegressor(**_xgboost_options(s))


def _kmeans(s: FitSettings) -> Estimator:
    from pyspark.ml.clustering import KMeans

    return KMeans(featuresCol=s.features, k=3, seed=s.seed)


MODELS: dict[str, SparkModel] = {
    model.name: model
    for model in (
        SparkModel(
            "spark.logistic",
            "logistic regression (pyspark.ml)",
            {"classification": _logistic},
            one_hot=True,
        ),
        SparkModel(
            "spark.linear",
            "linear regression (pyspark.ml)",
            {"regression": _linear},
            one_hot=True,
        ),
        SparkModel(
            "spark.random_forest",
            "random forest (pyspark.ml)",
            {"classification": _forest_classifier, "regression": _forest_regressor},
        ),
        SparkModel(
            "spark.gbt",
            "gradient-boosted trees (pyspark.ml; binary classification or regression)",
            {"classification": _gbt_classifier, "regression": _gbt_regressor},
            max_classes=2,
        ),
        SparkModel(
            "spark.xgboost",
            "XGBoost on Spark (xgboost.spark; not over Spark Connect)",
            {"classification": _xgboost_classifier, "regression": _xgboost_regressor},
            over_connect=False,
        ),
        SparkModel(
            "spark.kmeans",
            "k-means clustering, k=3 (pyspark.ml)",
            {"clustering": _kmeans},
            one_hot=True,
            scale=True,
        ),
    )
}


def get(name: str) -> SparkModel:
    """The model called ``name``; raises ``SparkModelError`` listing the choices."""
    try:
        return MODELS[name]
    except KeyError:
        raise SparkModelError(
            f"unknown Spark model {name!r}", hint=f"choose one of {', '.join(MODELS)}"
        ) from None


def runnable(task: Task, classes: int = 0, *, over_connect: bool = False) -> list[SparkModel]:
    """Every model that can do ``task`` with ``classes`` on this kind of session."""
    fitting = []
    for model in MODELS.values():
        try:
            model.check(task, classes, over_connect=over_connect)
        except SparkModelError:
            continue
        fitting.append(model)
    return fitting


def default_model(task: Task, *, over_connect: bool) -> SparkModel:
    """The strongest general choice for ``task`` that runs on this kind of session."""
    if task == "clustering":
        return MODELS["spark.kmeans"]
    return MODELS["spark.random_forest" if over_connect else "spark.xgboost"]


def available() -> bool:
    return importlib.util.find_spec("pyspark") is not None


def model_specs() -> list[SparkModel]:
    return list(MODELS.values())


def fit_estimator(
    estimator: Estimator, X: DataFrame, y: str, categorical: list[int]
) -> Transformer:
    """Fit on the prepared frame ``X``; Spark reads the label from ``X`` itself, so ``y`` is
    the name of its label column (as set on the estimator) and ``categorical`` is unused: the
    preparation stages index categories."""
    return estimator.fit(X)


def save_estimator(estimator: PipelineModel, directory: Path) -> list[str]:
    """Write the pipeline to ``directory/spark-model``; return the files of the model."""
    from modelyard.learn.spark.packaging import MODEL_DIR
    from modelyard.learn.spark.reading import spark_path

    estimator.write().overwrite().save(spark_path(directory / MODEL_DIR))
    # Checksums and success markers are Spark's bookkeeping for its own writes, not model content.
    written = sorted(path for path in (directory / MODEL_DIR).rglob("*") if path.is_file())
    for path in written:
        if path.name.endswith(".crc") or path.name == "_SUCCESS":
            path.unlink()
    return [path.relative_to(directory).as_posix() for path in written if path.exists()]


def load_estimator(directory: Path, task: Task) -> PipelineModel:
    """Load the pipeline on the active Spark session, after refusing any stage metadata that
    would import, unpickle or run something modelyard did not write (see
    ``packaging.check_stages``)."""
    from pyspark.ml import PipelineModel

    from modelyard.learn.spark.packaging import MODEL_DIR, check_stages, read_info
    from modelyard.learn.spark.reading import spark_path
    from modelyard.learn.spark.schema import FeaturePlan
    from modelyard.learn.spark.stages import preparation_sql

    info = read_info(directory, verify_hashes=False)
    check_stages(directory / MODEL_DIR, preparation_sql(FeaturePlan(info.inputs)))
    return PipelineModel.load(spark_path(directory / MODEL_DIR))
