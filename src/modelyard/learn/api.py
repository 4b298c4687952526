"""``train``, ``compare``, ``evaluate`` and ``predict``: the jobs the CLI runs, as functions."""

from __future__ import annotations

import itertools
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, overload

from modelyard.data.errors import MissingColumnError, UnreadableDataError
from modelyard.data.reading import Dataset, drop_missing_target, read_dataset
from modelyard.learn.errors import LearnError
from modelyard.learn.metrics import PRIMARY, classification_metrics, regression_metrics
from modelyard.learn.model import Model
from modelyard.learn.models import DEFAULT_ARRAY_MODEL, DEFAULT_MODEL, candidates, get_spec
from modelyard.learn.registry import (
    DEFAULT_MASTER,
    Clustering,
    DataKind,
    Engine,
    EpochProgress,
    Inference,
    ModelSpec,
    Task,
    TaskOrAuto,
)
from modelyard.learn.results import HoldoutEvaluation, LeaderboardEntry, TrainSummary
from modelyard.learn.task import resolve_task
from modelyard.learn.validation import (
    ENGINES,
    INFERENCES,
    SEEDS,
    SPARK_TASKS,
    TASKS,
    Interval,
    check_param,
    reject_param,
)
from modelyard.package.manifest import manifest_backend

if TYPE_CHECKING:
    import pandas
    import pyspark.sql

    from modelyard.learn.search import Finishing, Standings
    from modelyard.learn.spark.training import SparkLeaderboard, SparkTrainResult
    from modelyard.learn.workers import Workers

MIN_ROWS = 10
ARRAY_SUFFIXES = (".npy", ".npz")
"""What ``predict_arrays`` reads and writes."""
_CLUSTERING_HINT = "clustering runs on the Spark engine: pass engine='spark'"
_BAYESIAN_HINT = "Bayesian models (pymc.*) train on the local engine"
Progress = Callable[[int, int, str], None]
"""Called as ``progress(done, total, what)`` while a job runs."""


@dataclass(frozen=True, kw_only=True)
class TrainResult(TrainSummary):
    """What ``train`` made: the fitted model, its hold-out metrics and where it was saved."""

    estimator: Model


@dataclass
class Leaderboard:
    """Cross-validated candidates, best first by ``metric``; ``skipped`` says who did not run,
    ``package`` where the winner was saved."""

    task: Task
    metric: str
    leaderboard: list[LeaderboardEntry]
    skipped: dict[str, str] = field(default_factory=dict)
    package: Path | None = None
    missing_target_rows: int = 0
    """Rows left out because their target is missing."""
    notes: list[str] = field(default_factory=list)
    """What the user should know about the result (a fallback took the first trial's place)."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "metric": self.metric,
            "leaderboard": [entry.to_dict() for entry in self.leaderboard],
            "package": str(self.package) if self.package else None,
        }


def _load(data: str | Path | Dataset, target: str) -> Dataset:
    dataset = data if isinstance(data, Dataset) else read_dataset(data, target)
    if dataset.y is None:
        raise MissingColumnError(f"the data has no target {target!r}")
    _require_rows(dataset, "rows")
    return dataset


def _require_rows(dataset: Dataset, what: str) -> None:
    """Raise ``UnreadableDataError`` unless ``dataset`` has ``MIN_ROWS`` (``what``) to train on."""
    if dataset.rows < MIN_ROWS:
        raise UnreadableDataError(
            f"the data has {dataset.rows} {what}; at least {MIN_ROWS} are needed to train"
        )


def evaluate_model(model: Model, X: Any, y: Any) -> dict[str, float]:
    """Metrics of a fitted model on rows with known targets."""
    import numpy as np

    y = np.asarray(y)
    if model.task_ == "classification":
        expected = y.astype(str) if model.classes_.dtype.kind in "UO" else y
        known = np.isin(expected, model.classes_)
        codes = np.searchsorted(model.classes_, expected[known])
        predicted = np.searchsorted(model.classes_, model.predict(X)[known])
        proba = model.predict_proba(X)[known]
        return classification_metrics(codes, predicted, proba)
    return regression_metrics(y.astype(float), model.predict(X))


@overload
def train(
    data: str | Path | Dataset,
    target: str,
    *,
    model: str | None = None,
    task: TaskOrAuto = "auto",
    out: str | Path | None = None,
    seed: int = 0,
    test_size: float = 0.2,
    refit: bool = True,
    progress: EpochProgress | None = None,
    inference: Inference | None = None,
    engine: Literal["local"] = "local",
    spark_master: str = DEFAULT_MASTER,
) -> TrainResult: ...


@overload
def train(
    data: str | Path | Dataset,
    target: str,
    *,
    model: str | None = None,
    task: TaskOrAuto | Clustering = "auto",
    out: str | Path | None = None,
    seed: int = 0,
    test_size: float = 0.2,
    refit: bool = True,
    progress: EpochProgress | None = None,
    inference: Inference | None = None,
    engine: Literal["spark"],
    spark_master: str = DEFAULT_MASTER,
) -> SparkTrainResult: ...


def train(
    data: str | Path | Dataset,
    target: str,
    *,
    model: str | None = None,
    task: TaskOrAuto | Clustering = "auto",
    out: str | Path | None = None,
    seed: int = 0,
    test_size: float = 0.2,
    refit: bool = True,
    progress: EpochProgress | None = None,
    inference: Inference | None = None,
    engine: Engine = "local",
    spark_master: str = DEFAULT_MASTER,
) -> TrainResult | SparkTrainResult:
    """Train one model, measure it on a held-out share of the rows, and save it as a package.

    Rows whose target is missing are left out (``missing_target_rows`` counts them). Once
    measured, the same configuration is refitted on every row unless ``refit`` is false;
    ``evaluation`` (also in the package's manifest and card) says which model the metrics
    describe.

    Args:
        data: a data file (CSV, TSV, Parquet, JSON lines, libsvm, ``.npz``) or a loaded
            ``Dataset``; the Spark engine takes a path only.
        target: the column to predict.
        model: a name from ``modelyard models``; by default LightGBM for tables and
            ``keras.cnn`` for arrays (on Spark: XGBoost, or random forest over Spark Connect).
        task: ``"auto"`` infers classification or regression from the target;
            ``"clustering"`` runs on Spark only.
        out: the package folder to write; ``None`` saves nothing.
        test_size: the share of rows held out for the metrics, in (0, 1).
        refit: refit on all rows once measured (the default); false keeps the measured
            model, fitted on the rows not held out.
        progress: called as ``progress(epoch, epochs, logs)`` after each Keras epoch.
        inference: how Bayesian models (``pymc.*``) draw their posterior: ``"nuts"``
            (the default) or ``"advi"`` (variational, for large tables); local engine only.
        engine: ``"local"`` trains on this machine, ``"spark"`` on ``spark_master``
            (``local[*]``, ``spark://HOST:PORT`` or ``sc://HOST:PORT``).

    Raises:
        LearnError: an argument is invalid (checked before the data is read);
            ``UnknownModelError`` names an unknown ``model``.
        DataError: the data is missing, unreadable, too small or lacks ``target``
            (``UnusableTargetError``: the target cannot be learned for the task).
        PackageError: ``out`` exists and is not a model package.
        SparkEngineError: with ``engine="spark"``, Spark cannot start, read the data or
            fit the model.
    """
    check_param("train", "engine", engine, ENGINES)
    check_param("train", "seed", seed, SEEDS)
    check_param("train", "test_size", test_size, Interval(0, 1, closed="neither"))
    check_param("train", "inference", inference, INFERENCES, None)
    if engine == "spark":
        if inference is not None:
            reject_param("train", "inference", inference, None, hint=_BAYESIAN_HINT)
        check_param("train", "task", task, SPARK_TASKS)
        from modelyard.learn import spark

        return spark.train(
            _spark_path("train", data),
            target=target,
            model=model,
            task=task,
            master=spark_master,
            out=out,
            seed=seed,
            holdout=test_size,
            refit=refit,
        )
    local_task = _local_task("train", task)
    chosen = get_spec(model) if model else None
    dataset = _load(data, target)
    default = DEFAULT_ARRAY_MODEL if dataset.kind == "array" else DEFAULT_MODEL
    spec = chosen or get_spec(default)
    return _train(dataset, spec, local_task, out, seed, test_size, refit, progress, inference)


def _local_task(caller: str, task: TaskOrAuto | Clustering) -> TaskOrAuto:
    """``task``, once checked as an argument of ``caller`` on the local engine."""
    if task == "clustering":
        reject_param(caller, "task", task, TASKS, hint=_CLUSTERING_HINT)
    check_param(caller, "task", task, TASKS)
    return task


def _train(
    dataset: Dataset,
    spec: ModelSpec,
    task: TaskOrAuto,
    out: str | Path | None,
    seed: int,
    test_size: float,
    refit: bool,
    progress: EpochProgress | None,
    inference: Inference | None,
) -> TrainResult:
    from sklearn.model_selection import train_test_split

    resolved = resolve_task(task, dataset.y, dataset.target or "target")
    dataset, missing_target = drop_missing_target(dataset)
    _require_rows(dataset, "rows with a target")
    stratify = dataset.y if resolved == "classification" and _stratifiable(dataset.y) else None
    X_train, X_test, y_train, y_test = train_test_split(
        dataset.X, dataset.y, test_size=test_size, random_state=seed, stratify=stratify
    )
    estimator = Model(model=spec.name, task=resolved, seed=seed)
    estimator.fit(X_train, y_train, progress=progress, inference=inference)
    metrics = evaluate_model(estimator, X_test, y_test)
    evaluation = HoldoutEvaluation(dataset.rows, len(y_test), refitted=refit)
    if refit:
        estimator = Model(model=spec.name, task=resolved, seed=seed)
        estimator.fit(dataset.X, dataset.y, progress=progress, inference=inference)
    package = None
    if out is not None:
        from modelyard.package import save

        source = Path(dataset.source).name if dataset.source else None
        package = save(
            estimator,
            out,
            metrics=metrics,
            evaluation=evaluation.to_dict(),
            target=dataset.target,
            dataset=source,
        )
    return TrainResult(
        model=spec.name,
        backend=spec.backend,
        task=resolved,
        metrics=metrics,
        package=package,
        estimator=estimator,
        dropped=estimator.dropped_columns,
        evaluation=evaluation,
        missing_target_rows=missing_target,
    )


def _stratifiable(y: Any) -> bool:
    import pandas as pd

    counts = pd.Series(y).astype(str).value_counts()
    return bool(counts.min() >= 2)


@overload
def compare(
    data: str | Path | Dataset,
    target: str,
    *,
    models: list[str] | None = None,
    cv: int = 5,
    time_budget: float | None = None,
    task: TaskOrAuto = "auto",
    seed: int = 0,
    progress: Progress | None = None,
    standings: Standings | None = None,
    out: str | Path | None = None,
    engine: Literal["local"] = "local",
    spark_master: str = DEFAULT_MASTER,
) -> Leaderboard: ...


@overload
def compare(
    data: str | Path | Dataset,
    target: str,
    *,
    models: list[str] | None = None,
    cv: int = 5,
    time_budget: float | None = None,
    task: TaskOrAuto | Clustering = "auto",
    seed: int = 0,
    progress: Progress | None = None,
    standings: Standings | None = None,
    out: None = None,
    engine: Literal["spark"],
    spark_master: str = DEFAULT_MASTER,
) -> SparkLeaderboard: ...


def compare(
    data: str | Path | Dataset,
    target: str,
    *,
    models: list[str] | None = None,
    cv: int = 5,
    time_budget: float | None = None,
    task: TaskOrAuto | Clustering = "auto",
    seed: int = 0,
    progress: Progress | None = None,
    standings: Standings | None = None,
    out: str | Path | None = None,
    engine: Engine = "local",
    spark_master: str = DEFAULT_MASTER,
) -> Leaderboard | SparkLeaderboard:
    """Cross-validate candidates (default: every installed model for the task), best first.

    Rows whose target is missing are left out (``missing_target_rows`` counts them).

    Args:
        data, target, task, seed, engine, spark_master: as for ``train``.
        models: the candidates' names; by default every installed model that fits the task
            and the data (models slow on this many rows are skipped).
        cv: the number of folds, at least 2.
        time_budget: seconds to spend, all of them: each candidate's defaults, then a
            hyperparameter search (Optuna's TPE; boosting stops early) of the best ones,
            then a greedy ensemble of them, listed when it beats the best single candidate.
            The whole call ends within 10% past the budget: every trial is cut at its
            deadline, and when the first is, a fast model fitted on a subsample takes its
            place (said in ``notes``); candidates that do not fit are listed in
            ``skipped``. Without it, each candidate runs with its defaults.
        progress: called as ``progress(done, total, what)`` as candidates run; with a time
            budget ``done`` and ``total`` are seconds.
        standings: with a time budget, called as ``standings(elapsed, leaderboard)`` after
            every trial, the leaderboard best first.
        out: save the winner here as a package: the fold models of the best candidate or of
            the ensemble's members, averaged (``ensemble`` package); local engine only.

    Raises:
        LearnError: an argument is invalid (checked before the data is read), a name in
            ``models`` is unknown (``UnknownModelError``), or no candidate could be trained.
        DataError: the data is missing, unreadable, too small or lacks ``target``.
        SparkEngineError: with ``engine="spark"``, Spark cannot start, read the data or
            fit a candidate.
    """
    check_param("compare", "engine", engine, ENGINES)
    check_param("compare", "cv", cv, Interval(2, integer=True))
    check_param("compare", "time_budget", time_budget, Interval(0), None)
    check_param("compare", "seed", seed, SEEDS)
    if engine == "spark":
        if out is not None:
            reject_param("compare", "out", out, None, hint="train the winner with train instead")
        check_param("compare", "task", task, SPARK_TASKS)
        from modelyard.learn import spark

        return spark.compare(
            _spark_path("compare", data),
            target=target,
            models=models,
            task=task,
            cv=cv,
            time_budget=time_budget,
            master=spark_master,
            seed=seed,
            progress=progress,
        )
    local_task = _local_task("compare", task)
    from modelyard.learn.search import PRIORITY
    from modelyard.learn.workers import Workers

    started = time.monotonic()
    # the workers start (and warm up) while the data is read
    with Workers(min(cv, os.cpu_count() or 1), (models or PRIORITY)[:1]) as workers:
        return _compare(
            data,
            target,
            models,
            cv,
            time_budget,
            local_task,
            seed,
            progress,
            standings,
            out,
            workers,
            started,
        )


def _compare(
    data: str | Path | Dataset,
    target: str,
    models: list[str] | None,
    cv: int,
    time_budget: float | None,
    task: TaskOrAuto,
    seed: int,
    progress: Progress | None,
    standings: Standings | None,
    out: str | Path | None,
    workers: Workers,
    started: float,
) -> Leaderboard:
    from modelyard.learn.ensemble import ensemble_model
    from modelyard.learn.search import (
        by_priority,
        make_folds,
        out_of_fold_metrics,
        search,
        select_winner,
    )

    chosen = [get_spec(name) for name in models] if models else None
    dataset = _load(data, target)
    resolved = resolve_task(task, dataset.y, dataset.target or "target")
    dataset, missing_target = drop_missing_target(dataset)
    _require_rows(dataset, "rows with a target")
    data_kind: DataKind = "array" if dataset.kind == "array" else "table"
    specs = chosen or by_priority(candidates(resolved, data_kind))
    stratify = resolved == "classification" and _stratifiable(dataset.y)
    folds = make_folds(dataset.X, dataset.y, resolved, cv, seed, stratify)
    budget = None
    if time_budget is not None:
        budget = max(0.0, time_budget - (time.monotonic() - started))
    with tempfile.TemporaryDirectory(prefix="modelyard-compare-") as scratch:
        result = search(
            folds,
            specs,
            seed=seed,
            budget=budget,
            progress=progress,
            standings=standings,
            defaults=chosen is None,
            workers=workers,
            finishing=None if out is None else _saving(Path(scratch), seed),
        )
    if not result.candidates:
        raise LearnError("no candidate could be trained", hint=f"reasons: {result.skipped}")
    searched = time_budget is not None
    entries = [candidate.entry(searched) for candidate in result.candidates]
    winner = select_winner(result, folds, ensemble=searched and dataset.kind != "array")
    if winner.ensemble is not None:
        entries.insert(0, winner.ensemble)
    package = None
    if out is not None:
        from modelyard.package import save

        model = ensemble_model(winner.members, winner.weights, seed)
        source = Path(dataset.source).name if dataset.source else None
        metrics = out_of_fold_metrics(folds, winner.predictions)
        package = save(model, out, metrics=metrics, target=dataset.target, dataset=source)
    return Leaderboard(
        resolved, PRIMARY[resolved], entries, result.skipped, package, missing_target, result.notes
    )


def _saving(scratch: Path, seed: int) -> Finishing:
    """Saves fold models as ``compare --out`` saves the winner, into ``scratch``, to time it."""
    from modelyard.learn.ensemble import ensemble_model
    from modelyard.package import save

    saved = itertools.count()

    def finishing(models: list[Model]) -> None:
        weights = [1 / len(models)] * len(models)
        save(ensemble_model(models, weights, seed), scratch / str(next(saved)))

    return finishing


def evaluate(
    package: str | Path,
    data: str | Path,
    *,
    engine: Engine = "local",
    spark_master: str = DEFAULT_MASTER,
) -> dict[str, float]:
    """Metrics of a saved model on data that holds its target column.

    Args:
        package: a model package folder. Spark packages run on Spark whatever ``engine``
            says; ``engine="spark"`` sends any package there.
        data: a data file holding the columns the model was trained on and its target.

    Raises:
        LearnError: ``engine`` is invalid, or the package does not record its target.
        PackageError: the package is missing, damaged or modified since it was saved
            (``UnsafePackageError``: the scanner judged a file unsafe; nothing was loaded).
        DataError: the data is missing, unreadable or lacks the target column.
        SparkEngineError: a Spark package cannot be loaded or run.
    """
    check_param("evaluate", "engine", engine, ENGINES)
    if _runs_on_spark(package, engine):
        from modelyard.learn import spark

        return spark.evaluate(package, str(data), master=spark_master)
    from modelyard.package import load

    model = load(package)
    target = model.manifest_.target
    if not target:
        raise LearnError("the package does not record its target column")
    dataset = read_dataset(data, target)
    return evaluate_model(model, dataset.X, dataset.y)


def predict(
    package: str | Path,
    data: str | Path,
    *,
    proba: bool = False,
    interval: float | None = None,
    out: str | Path | None = None,
    engine: Engine = "local",
    spark_master: str = DEFAULT_MASTER,
) -> pandas.DataFrame | pyspark.sql.DataFrame:
    """Predictions for every row of ``data``: a column named after the target, plus one
    ``proba_<class>`` column per class with ``proba``.

    With ``interval`` (a level in (0, 1), such as 0.9), models with a posterior (``pymc.*``)
    add the central interval's bounds: ``<target>_lower`` and ``<target>_upper`` for
    regression; ``proba_<class>_lower`` and ``proba_<class>_upper`` for classification,
    which needs ``proba``.

    Returns a pandas frame or, on the Spark engine, a Spark frame that also keeps the input
    columns.

    Args:
        package, engine, spark_master: as for ``evaluate``.
        data: a data file holding the columns the model was trained on.
        out: also write the predictions here, as CSV or Parquet by suffix (Spark writes a
            folder of part files and never replaces an existing ``out``).

    Raises:
        LearnError: ``engine`` or ``interval`` is invalid, ``proba`` is asked of a regression
            model, or ``interval`` of a model without a posterior (or of a classifier
            without ``proba``).
        PackageError: the package is missing, damaged or modified since it was saved
            (``UnsafePackageError``: the scanner judged a file unsafe; nothing was loaded).
        DataError: the data is missing, unreadable or lacks a feature column.
        SparkEngineError: a Spark package cannot be loaded or run, or ``out`` exists.
    """
    check_param("predict", "engine", engine, ENGINES)
    check_param("predict", "interval", interval, Interval(0, 1, closed="neither"), None)
    if _runs_on_spark(package, engine):
        from modelyard.learn import spark

        if interval is not None:
            reject_param("predict", "interval", interval, None, hint=_BAYESIAN_HINT)
        destination = str(out) if out is not None else None
        return spark.predict(package, str(data), out=destination, proba=proba, master=spark_master)
    frame = _predict(package, data, proba=proba, interval=interval)
    if out is None:
        return frame
    if Path(out).suffix.lower() in (".parquet", ".pq"):
        frame.to_parquet(out, index=False)
    else:
        frame.to_csv(out, index=False)
    return frame


def predict_arrays(package: str | Path, data: str | Path, out: str | Path) -> dict[str, Any]:
    """Run an ``onnx`` package on arrays and write its outputs; returns them by name.

    ``data`` is ``.npy`` (the model's one input) or ``.npz`` (one array per input name, or
    ``X`` for a model with one input). ``out`` gets the first output (``.npy``) or every
    output by name (``.npz``).

    Raises:
        LearnError: the package is not an ``onnx`` package, a file is not ``.npy``/``.npz``,
            or the arrays do not fit the model's inputs.
        UnreadableDataError: ``data`` cannot be read as arrays.
        PackageError: as for ``predict``.
    """
    import numpy as np

    from modelyard.learn.backends import onnx
    from modelyard.package import load

    data, out = Path(data), Path(out)
    for path in (data, out):
        if path.suffix.lower() not in ARRAY_SUFFIXES:
            raise LearnError(f"{path.name} is not an array file", hint="use .npy or .npz")
    model = load(package)
    if model.spec_.backend != onnx.NAME:
        raise LearnError(
            f"{package} holds a {model.spec_.backend} model; array outputs need an onnx package"
        )
    estimator: onnx.OnnxModel = model.estimator_
    try:
        loaded = np.load(data, allow_pickle=False)
    except (OSError, ValueError) as error:
        raise UnreadableDataError(f"{data.name} is not a readable array file: {error}") from None
    if isinstance(loaded, np.ndarray):
        inputs: Any = loaded
    else:
        with loaded:
            arrays = dict(loaded)
        single = len(estimator.input_names_) == 1 and "X" in arrays
        inputs = arrays["X"] if single else arrays
    outputs = estimator.outputs(inputs)
    if out.suffix.lower() == ".npy":
        np.save(out, outputs[estimator.output_names_[0]], allow_pickle=False)
    else:
        np.savez(out, **outputs)
    return outputs


def _predict(
    package: str | Path, data: str | Path, *, proba: bool, interval: float | None
) -> pandas.DataFrame:
    import pandas as pd

    from modelyard.package import load

    model = load(package)
    target = model.manifest_.target or "prediction"
    dataset = read_dataset(data)
    if dataset.kind == "table" and target in dataset.X.columns:
        dataset.X = dataset.X.drop(columns=[target])
    frame = pd.DataFrame({target: model.predict(dataset.X)})
    if proba:
        if model.task_ != "classification":
            raise LearnError("--proba needs a classification model")
        probabilities = model.predict_proba(dataset.X)
        for index, label in enumerate(model.classes_):
            frame[f"proba_{label}"] = probabilities[:, index]
    if interval is not None:
        lower, upper = model.predict_interval(dataset.X, interval)
        if model.task_ == "regression":
            frame[f"{target}_lower"], frame[f"{target}_upper"] = lower, upper
        elif not proba:
            raise LearnError(
                "a classifier's intervals are of its probabilities", hint="add --proba"
            )
        else:
            for index, label in enumerate(model.classes_):
                frame[f"proba_{label}_lower"] = lower[:, index]
                frame[f"proba_{label}_upper"] = upper[:, index]
    return frame


def _runs_on_spark(package: str | Path, engine: Engine) -> bool:
    """Spark packages always run on Spark; ``engine="spark"`` sends any package there."""
    from modelyard.learn.backends import spark

    return engine == "spark" or manifest_backend(Path(package)) == spark.NAME


def _spark_path(caller: str, data: str | Path | Dataset) -> str:
    """The Spark engine reads files itself, so it takes a path, not a loaded ``Dataset``."""
    if isinstance(data, Dataset):
        raise LearnError(
            f"The 'data' parameter of {caller} must be a path with engine='spark'. "
            "Got a Dataset instead."
        )
    return str(data)
