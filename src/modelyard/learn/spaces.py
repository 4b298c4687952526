"""Hyperparameter search spaces of the models ``compare --time-budget`` tunes, by model name.

Each space draws a configuration from an Optuna trial as ``Model(params=...)`` takes it (the
estimator's ``set_params`` names), for a task and the number of rows each fold trains on.
Boosting models get many rounds: early stopping on each fold's held-out rows decides how many
they keep. Sizes that only make sense on many rows (leaves, rows per leaf, neighbours) are
bounded by the rows, so that on a small table (a few hundred rows, as scikit-learn's bundled
sets) trials are not spent on trees of one leaf or forests that memorise every row.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from modelyard.learn.registry import Task

if TYPE_CHECKING:
    import optuna

Space = Callable[["optuna.Trial", Task, int], dict[str, Any]]
"""Called as ``space(trial, task, rows)``, ``rows`` the training rows of a fold."""
_MAX_ROUNDS = 3000


def _bounded(limit: int, rows: int, per: int, low: int) -> int:
    """``limit``, or one for every ``per`` rows when that is less; never below ``low + 1``."""
    return max(low + 1, min(limit, rows // per))


def _lightgbm(trial: optuna.Trial, task: Task, rows: int) -> dict[str, Any]:
    return {
        "n_estimators": _MAX_ROUNDS,
        "learning_rate": trial.suggest_float("learning_rate", 0.01, 0.2, log=True),
        "num_leaves": trial.suggest_int("num_leaves", 4, _bounded(256, rows, 4, 4), log=True),
        "min_child_samples": trial.suggest_int(
            "min_child_samples", 2, _bounded(100, rows, 10, 2), log=True
        ),
        "colsample_bytree": trial.suggest_float("colsample_bytree", 0.3, 1.0),
        "subsample": trial.suggest_float("subsample", 0.5, 1.0),
        "subsample_freq": 1,
        "reg_lambda": trial.suggest_float("reg_lambda", 1e-3, 10.0, log=True),
        # random split thresholds (AutoGluon's LightGBMXT): less variance on small, noisy tables
        "extra_trees": trial.suggest_categorical("extra_trees", [False, True]),
    }


def _xgboost(trial: optuna.Trial, task: Task, rows: int) -> dict[str, Any]:
    return {
        "n_estimators": _MAX_ROUNDS,
        "learning_rate": trial.suggest_float("learning_rate", 0.01, 0.2, log=True),
        "max_depth": trial.suggest_int("max_depth", 2, 10 if rows > 1000 else 6),
        "min_child_weight": trial.suggest_float(
            "min_child_weight", 0.5, min(20.0, max(2.0, rows / 50)), log=True
        ),
        "colsample_bytree": trial.suggest_float("colsample_bytree", 0.3, 1.0),
        "subsample": trial.suggest_float("subsample", 0.5, 1.0),
        "reg_lambda": trial.suggest_float("reg_lambda", 1e-3, 10.0, log=True),
    }


def _hist_gradient_boosting(trial: optuna.Trial, task: Task, rows: int) -> dict[str, Any]:
    return {
        "learning_rate": trial.suggest_float("learning_rate", 0.01, 0.3, log=True),
        "max_iter": trial.suggest_int("max_iter", 50, 500, log=True),
        "max_leaf_nodes": trial.suggest_int(
            "max_leaf_nodes", 4, _bounded(128, rows, 4, 4), log=True
        ),
        "min_samples_leaf": trial.suggest_int(
            "min_samples_leaf", 2, _bounded(100, rows, 10, 2), log=True
        ),
        "l2_regularization": trial.suggest_float("l2_regularization", 1e-4, 10.0, log=True),
    }


def _random_forest(trial: optuna.Trial, task: Task, rows: int) -> dict[str, Any]:
    return {
        "max_features": trial.suggest_float("max_features", 0.1, 1.0),
        "min_samples_leaf": trial.suggest_int(
            "min_samples_leaf", 1, _bounded(20, rows, 20, 1), log=True
        ),
    }


def _mlp(trial: optuna.Trial, task: Task, rows: int) -> dict[str, Any]:
    prefix = "regressor__" if task == "regression" else ""  # the standardised target's
    width = trial.suggest_int("width", 16, 256, log=True)
    layers = trial.suggest_int("layers", 1, 3)
    return {
        f"{prefix}hidden_layer_sizes": (width,) * layers,
        f"{prefix}alpha": trial.suggest_float("alpha", 1e-5, 10.0, log=True),
        f"{prefix}learning_rate_init": trial.suggest_float(
            "learning_rate_init", 1e-4, 1e-2, log=True
        ),
    }


def _linear(trial: optuna.Trial, task: Task, rows: int) -> dict[str, Any]:
    if task == "classification":
        return {"C": trial.suggest_float("C", 1e-3, 1e3, log=True)}
    return {"alpha": trial.suggest_float("alpha", 1e-3, 1e3, log=True)}


def _svm(trial: optuna.Trial, task: Task, rows: int) -> dict[str, Any]:
    # the calibrated SVC's, or the SVR's fitted to the standardised target
    prefix = "estimator__" if task == "classification" else "regressor__"
    return {
        f"{prefix}C": trial.suggest_float("C", 1e-2, 1e3, log=True),
        f"{prefix}gamma": trial.suggest_float("gamma", 1e-4, 1.0, log=True),
    }


def _knn(trial: optuna.Trial, task: Task, rows: int) -> dict[str, Any]:
    return {
        "n_neighbors": trial.suggest_int("n_neighbors", 1, _bounded(50, rows, 5, 1), log=True),
        "weights": trial.suggest_categorical("weights", ["uniform", "distance"]),
    }


def _tree(trial: optuna.Trial, task: Task, rows: int) -> dict[str, Any]:
    return {
        "max_depth": trial.suggest_int("max_depth", 2, 20),
        "min_samples_leaf": trial.suggest_int(
            "min_samples_leaf", 1, _bounded(50, rows, 10, 1), log=True
        ),
    }


SEARCH_SPACES: dict[str, Space] = {
    "lightgbm": _lightgbm,
    "xgboost": _xgboost,
    "sklearn.hist_gradient_boosting": _hist_gradient_boosting,
    "sklearn.random_forest": _random_forest,
    "sklearn.extra_trees": _random_forest,
    "sklearn.mlp": _mlp,
    "sklearn.linear": _linear,
    "sklearn.svm": _svm,
    "sklearn.knn": _knn,
    "sklearn.tree": _tree,
}
"""The models ``compare`` tunes; the others run with their defaults only."""
