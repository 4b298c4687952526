"""scikit-learn models, saved with skops (a safe format: no pickle, types checked on load)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from modelyard.learn.registry import ModelSpec, Task
from modelyard.package.skops import load_skops, save_skops

NAME = "sklearn"
_FILE = "estimator.skops"


def available() -> bool:
    return True


def _linear(task: Task, seed: int) -> Any:
    from sklearn.linear_model import LogisticRegression, Ridge

    return LogisticRegression(max_iter=2000) if task == "classification" else Ridge()


def _tree(task: Task, seed: int) -> Any:
    from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

    cls = DecisionTreeClassifier if task == "classification" else DecisionTreeRegressor
    return cls(random_state=seed, min_samples_leaf=2)


def _forest(task: Task, seed: int) -> Any:
    from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

    cls = RandomForestClassifier if task == "classification" else RandomForestRegressor
    return cls(n_estimators=200, random_state=seed, n_jobs=-1)


def _extra_trees(task: Task, seed: int) -> Any:
    from sklearn.ensemble import ExtraTreesClassifier, ExtraTreesRegressor

    cls = ExtraTreesClassifier if task == "classification" else ExtraTreesRegressor
    return cls(n_estimators=200, random_state=seed, n_jobs=-1)


def _hist_gradient_boosting(task: Task, seed: int) -> Any:
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    if task == "classification":
        return HistGradientBoostingClassifier(random_state=seed)
    return HistGradientBoostingRegressor(random_state=seed)


def _svm(task: Task, seed: int) -> Any:
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.svm import SVC, SVR

    if task == "classification":  # calibrated, so it has predict_proba
        return CalibratedClassifierCV(SVC(random_state=seed), ensemble=False)
    return _standardised_target(SVR())


def _knn(task: Task, seed: int) -> Any:
    from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor

    return KNeighborsClassifier() if task == "classification" else KNeighborsRegressor()


def _mlp(task: Task, seed: int) -> Any:
    from sklearn.neural_network import MLPClassifier, MLPRegressor

    # stops once 10% of the rows it holds out stop improving, as AutoGluon's networks do
    options = {"early_stopping": True, "max_iter": 500, "random_state": seed}
    if task == "classification":
        return MLPClassifier(**options)
    return _standardised_target(MLPRegressor(**options))


def _standardised_target(regressor: Any) -> Any:
    """``regressor`` fitted to the target scaled to mean 0 and variance 1 (predictions scaled
    back): its penalties, step sizes and tolerances then mean the same for any target's units."""
    from sklearn.compose import TransformedTargetRegressor
    from sklearn.preprocessing import StandardScaler

    return TransformedTargetRegressor(regressor, transformer=StandardScaler())


_BOTH: frozenset[Task] = frozenset({"classification", "regression"})


def model_specs() -> list[ModelSpec]:
    return [
        ModelSpec(
            "sklearn.linear",
            NAME,
            _BOTH,
            _linear,
            "logistic regression / ridge",
            needs_scaling=True,
            accepts_sparse=True,
        ),
        ModelSpec("sklearn.tree", NAME, _BOTH, _tree, "decision tree", accepts_sparse=True),
        ModelSpec(
            "sklearn.random_forest", NAME, _BOTH, _forest, "random forest", accepts_sparse=True
        ),
        ModelSpec(
            "sklearn.extra_trees",
            NAME,
            _BOTH,
            _extra_trees,
            "extremely randomised trees",
            accepts_sparse=True,
        ),
        ModelSpec(
            "sklearn.hist_gradient_boosting",
            NAME,
            _BOTH,
            _hist_gradient_boosting,
            "histogram gradient boosting",
        ),
        # Kernel SVMs fit in quadratic time: past this size they take hours.
        ModelSpec(
            "sklearn.svm",
            NAME,
            _BOTH,
            _svm,
            "support vector machine (RBF kernel)",
            needs_scaling=True,
            accepts_sparse=True,
            max_rows=20_000,
        ),
        ModelSpec(
            "sklearn.knn",
            NAME,
            _BOTH,
            _knn,
            "k nearest neighbours",
            needs_scaling=True,
            accepts_sparse=True,
        ),
        # Stochastic gradient steps over every row, epoch after epoch: slow on large tables.
        ModelSpec(
            "sklearn.mlp",
            NAME,
            _BOTH,
            _mlp,
            "multi-layer perceptron",
            needs_scaling=True,
            accepts_sparse=True,
            max_rows=100_000,
        ),
    ]


def fit_estimator(estimator: Any, X: Any, y: Any, categorical: list[int]) -> Any:
    """Fit; categories arrive one-hot or ordinal encoded, so ``categorical`` is not needed."""
    return estimator.fit(X, y)


def save_estimator(estimator: Any, directory: Path) -> list[str]:
    return save_skops(estimator, directory / _FILE)


def load_estimator(directory: Path, task: Task) -> Any:
    return load_skops(directory / _FILE)
