"""XGBoost models (``xgboost-cpu``), saved in XGBoost's own JSON model format."""

from __future__ import annotations

import importlib.util
import time
from pathlib import Path
from typing import Any

from modelyard.learn.registry import ModelSpec, Task

NAME = "xgboost"
_FILE = "model.json"


def available() -> bool:
    return importlib.util.find_spec("xgboost") is not None


def _xgboost(task: Task, seed: int) -> Any:
    import xgboost

    cls = xgboost.XGBClassifier if task == "classification" else xgboost.XGBRegressor
    return cls(
        n_estimators=300,
        learning_rate=0.1,
        max_depth=6,
        tree_method="hist",
        enable_categorical=True,
        random_state=seed,
        # One thread: OpenMP threads spin when the cores are busy elsewhere, which made
        # training on a busy 2-core machine many times slower.
        n_jobs=1,
    )


def model_specs() -> list[ModelSpec]:
    return [
        ModelSpec(
            "xgboost",
            NAME,
            frozenset({"classification", "regression"}),
            _xgboost,
            "gradient-boosted trees (XGBoost, histogram method)",
            native_categorical=True,
            accepts_sparse=True,
        )
    ]


def fit_estimator(estimator: Any, X: Any, y: Any, categorical: list[int]) -> Any:
    """Fit, marking ordinal-coded category columns as categorical for XGBoost."""
    _declare_categories(estimator, X, categorical)
    return estimator.fit(X, y)


def _declare_categories(estimator: Any, X: Any, categorical: list[int]) -> None:
    if categorical:
        estimator.set_params(
            feature_types=["c" if index in categorical else "q" for index in range(X.shape[1])]
        )


def fit_stopping_early(
    estimator: Any,
    X: Any,
    y: Any,
    categorical: list[int],
    valid: tuple[Any, Any],
    deadline: float | None,
    patience: int,
) -> Any:
    """Fit, stopping when the score on ``valid`` stalls or at ``deadline``."""
    import xgboost

    class StopAtDeadline(xgboost.callback.TrainingCallback):
        def after_iteration(self, model: Any, epoch: int, evals_log: Any) -> bool:
            return deadline is not None and time.monotonic() > deadline

    _declare_categories(estimator, X, categorical)
    estimator.set_params(early_stopping_rounds=patience, callbacks=[StopAtDeadline()])
    return estimator.fit(X, y, eval_set=[valid], verbose=False)


def best_rounds(estimator: Any) -> int:
    booster = estimator.get_booster()
    best = booster.attr("best_iteration")  # unset when the deadline stopped the first round
    return int(best) + 1 if best is not None else int(booster.num_boosted_rounds())


def save_estimator(estimator: Any, directory: Path) -> list[str]:
    estimator.save_model(directory / _FILE)
    return [_FILE]


def load_estimator(directory: Path, task: Task) -> Any:
    import xgboost

    estimator = xgboost.XGBClassifier() if task == "classification" else xgboost.XGBRegressor()
    estimator.load_model(directory / _FILE)
    return estimator
