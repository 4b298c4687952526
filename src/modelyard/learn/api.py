"""``train``, ``compare``, ``evaluate`` and ``predict``: the jobs the CLI runs, as functions."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from modelyard.data.errors import MissingColumnError, UnreadableDataError
from modelyard.data.reading import Dataset, read_dataset
from modelyard.learn.errors import LearnError
from modelyard.learn.metrics import PRIMARY, classification_metrics, regression_metrics
from modelyard.learn.model import Model
from modelyard.learn.models import DEFAULT_ARRAY_MODEL, DEFAULT_MODEL, candidates, get_spec
from modelyard.learn.registry import DataKind, EpochProgress, Task, TaskOrAuto
from modelyard.learn.results import LeaderboardEntry, TrainSummary
from modelyard.learn.task import resolve_task
from modelyard.learn.validation import SEEDS, TASKS, Interval, check_param

MIN_ROWS = 10
Progress = Callable[[int, int, str], None]
"""Called as ``progress(done, total, what)`` while a job runs."""


@dataclass(frozen=True, kw_only=True)
class TrainResult(TrainSummary):
    """What ``train`` made: the fitted model, its hold-out metrics and where it was saved."""

    estimator: Model


@dataclass
class Leaderboard:
    """Cross-validated candidates, best first by ``metric``; ``skipped`` says who did not run."""

    task: Task
    metric: str
    leaderboard: list[LeaderboardEntry]
    skipped: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "metric": self.metric,
            "leaderboard": [asdict(entry) for entry in self.leaderboard],
        }


def _load(data: str | Path | Dataset, target: str) -> Dataset:
    dataset = data if isinstance(data, Dataset) else read_dataset(data, target)
    if dataset.y is None:
        raise MissingColumnError(f"the data has no target {target!r}")
    if dataset.rows < MIN_ROWS:
        raise UnreadableDataError(
            f"the data has {dataset.rows} rows; at least {MIN_ROWS} are needed to train"
        )
    return dataset


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


def train(
    data: str | Path | Dataset,
    target: str,
    *,
    model: str | None = None,
    task: TaskOrAuto = "auto",
    out: str | Path | None = None,
    seed: int = 0,
    test_size: float = 0.2,
    progress: EpochProgress | None = None,
) -> TrainResult:
    """Train one model, measure it on a held-out share of the rows, and save it as a package.

    The saved model is the one the metrics describe (trained on the other rows).
    ``progress(epoch, epochs, logs)`` reports training epochs of Keras models.
    """
    from sklearn.model_selection import train_test_split

    check_param("train", "task", task, TASKS)
    check_param("train", "seed", seed, SEEDS)
    check_param("train", "test_size", test_size, Interval(0, 1, closed="neither"))
    chosen = get_spec(model) if model else None
    dataset = _load(data, target)
    default = DEFAULT_ARRAY_MODEL if dataset.kind == "array" else DEFAULT_MODEL
    spec = chosen or get_spec(default)
    resolved = resolve_task(task, dataset.y, dataset.target or "target")
    stratify = dataset.y if resolved == "classification" and _stratifiable(dataset.y) else None
    X_train, X_test, y_train, y_test = train_test_split(
        dataset.X, dataset.y, test_size=test_size, random_state=seed, stratify=stratify
    )
    estimator = Model(model=spec.name, task=resolved, seed=seed)
    estimator.fit(X_train, y_train, progress=progress)
    metrics = evaluate_model(estimator, X_test, y_test)
    package = None
    if out is not None:
        from modelyard.package import save

        source = Path(dataset.source).name if dataset.source else None
        package = save(estimator, out, metrics=metrics, target=dataset.target, dataset=source)
    return TrainResult(
        model=spec.name, backend=spec.backend, task=resolved, metrics=metrics, package=package,
        estimator=estimator, dropped=estimator.dropped_columns,
    )  # fmt: skip


def _stratifiable(y: Any) -> bool:
    import pandas as pd

    counts = pd.Series(y).astype(str).value_counts()
    return bool(counts.min() >= 2)


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
) -> Leaderboard:
    """Cross-validate candidates (default: every installed model for the task), best first.

    With ``time_budget`` (seconds), no candidate after the first starts once the budget is
    spent; those not run are listed in ``skipped``.
    """
    import numpy as np
    from sklearn.model_selection import KFold, StratifiedKFold, cross_validate

    check_param("compare", "cv", cv, Interval(2, integer=True))
    check_param("compare", "time_budget", time_budget, Interval(0), None)
    check_param("compare", "task", task, TASKS)
    check_param("compare", "seed", seed, SEEDS)
    chosen = [get_spec(name) for name in models] if models else None
    dataset = _load(data, target)
    resolved = resolve_task(task, dataset.y, dataset.target or "target")
    data_kind: DataKind = "array" if dataset.kind == "array" else "table"
    specs = chosen or candidates(resolved, data_kind)
    splitter: Any
    if resolved == "classification" and _stratifiable(dataset.y):
        splitter = StratifiedKFold(n_splits=cv, shuffle=True, random_state=seed)
    else:
        splitter = KFold(n_splits=cv, shuffle=True, random_state=seed)
    # Folds run in parallel processes; each model trains on one thread (see the backends).
    workers = min(cv, os.cpu_count() or 1)
    entries = []
    skipped: dict[str, str] = {}
    started = time.perf_counter()
    y = np.asarray(dataset.y)
    for done, spec in enumerate(specs):
        if done and time_budget is not None and time.perf_counter() - started > time_budget:
            skipped[spec.name] = "time budget spent"
            continue
        if not models and spec.max_rows is not None and dataset.rows > spec.max_rows:
            skipped[spec.name] = f"slow above {spec.max_rows:,} rows; ask for it with --models"
            continue
        if progress:
            progress(done, len(specs), spec.name)
        estimator = Model(model=spec.name, task=resolved, seed=seed)
        try:
            scores = cross_validate(
                estimator, dataset.X, y, cv=splitter, error_score="raise", n_jobs=workers
            )
        except (ValueError, LearnError) as error:
            skipped[spec.name] = str(error).splitlines()[0]
            continue
        entries.append(
            LeaderboardEntry(
                spec.name,
                spec.backend,
                round(float(scores["test_score"].mean()), 6),
                round(float(scores["test_score"].std()), 6),
                round(float(scores["fit_time"].mean()), 4),
            )
        )
    if progress:
        progress(len(specs), len(specs), "done")
    if not entries:
        raise LearnError("no candidate could be trained", hint=f"reasons: {skipped}")
    entries.sort(key=lambda entry: entry.score, reverse=True)
    return Leaderboard(resolved, PRIMARY[resolved], entries, skipped)


def evaluate(package: str | Path, data: str | Path) -> dict[str, float]:
    """Metrics of a saved model on data that holds its target column."""
    from modelyard.package import load

    model = load(package)
    target = model.manifest_.target
    if not target:
        raise LearnError("the package does not record its target column")
    dataset = read_dataset(data, target)
    return evaluate_model(model, dataset.X, dataset.y)


def predict(package: str | Path, data: str | Path, *, proba: bool = False) -> Any:
    """Predictions for every row of ``data`` as a frame: a column named after the target,
    plus one probability column per class with ``proba``."""
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
    return frame
