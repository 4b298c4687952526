"""LightGBM models, saved as LightGBM's own text model."""

from __future__ import annotations

import importlib.util
import time
from pathlib import Path
from typing import Any

from modelyard.learn.registry import ModelSpec, Task

NAME = "lightgbm"
_FILE = "model.txt"


def available() -> bool:
    return importlib.util.find_spec("lightgbm") is not None


def _lightgbm(task: Task, seed: int) -> Any:
    import lightgbm

    cls = lightgbm.LGBMClassifier if task == "classification" else lightgbm.LGBMRegressor
    return cls(
        n_estimators=300,
        learning_rate=0.05,
        num_leaves=31,
        # LightGBM's own default: leaves of 5 rows let 300 trees fit the noise of small tables
        # (diabetes: R² 0.11, against 0.16 for a default LightGBM; bench/train_quality.py).
        min_child_samples=20,
        random_state=seed,
        # One thread: OpenMP threads spin when the cores are busy elsewhere, which made
        # training on a busy 2-core machine many times slower.
        n_jobs=1,
        verbose=-1,
    )


def model_specs() -> list[ModelSpec]:
    return [
        ModelSpec(
            "lightgbm",
            NAME,
            frozenset({"classification", "regression"}),
            _lightgbm,
            "gradient-boosted trees (LightGBM)",
            native_categorical=True,
            accepts_sparse=True,
        )
    ]


def fit_estimator(estimator: Any, X: Any, y: Any, categorical: list[int]) -> Any:
    """Fit, with ordinal-coded category columns declared categorical."""
    return estimator.fit(X, y, categorical_feature=categorical or "auto")


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
    import lightgbm

    def stop_at_deadline(env: Any) -> None:
        if deadline is not None and time.monotonic() > deadline:
            raise lightgbm.callback.EarlyStopException(
                env.iteration, env.evaluation_result_list or []
            )

    return estimator.fit(
        X,
        y,
        categorical_feature=categorical or "auto",
        eval_X=(valid[0],),
        eval_y=(valid[1],),
        callbacks=[lightgbm.early_stopping(patience, verbose=False), stop_at_deadline],
    )


def best_rounds(estimator: Any) -> int:
    return int(estimator.best_iteration_ or estimator.n_estimators)


def save_estimator(estimator: Any, directory: Path) -> list[str]:
    estimator.booster_.save_model(directory / _FILE)
    return [_FILE]


class LoadedBooster:
    """A LightGBM booster read back from its text model, with the estimator's predict methods."""

    def __init__(self, booster: Any, task: Task) -> None:
        self.booster_ = booster
        self.task = task

    def predict_proba(self, X: Any) -> Any:
        import numpy as np

        raw = self.booster_.predict(X)
        return np.column_stack([1 - raw, raw]) if raw.ndim == 1 else raw

    def predict(self, X: Any) -> Any:
        if self.task == "classification":
            return self.predict_proba(X).argmax(axis=1)
        return self.booster_.predict(X)


def load_estimator(directory: Path, task: Task) -> Any:
    import lightgbm

    return LoadedBooster(lightgbm.Booster(model_file=str(directory / _FILE)), task)
