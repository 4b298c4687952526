"""Weighted ensembles: greedy ensemble selection over out-of-fold predictions (Caruana et al.,
2004, as AutoGluon's ``WeightedEnsemble``), and the estimator that averages fitted models."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from modelyard.learn.model import Model

SELECTION_ROUNDS = 25
"""How many picks (with replacement) greedy selection makes; weights are multiples of 1/25."""


def greedy_selection(
    predictions: Sequence[Any],
    quality: Callable[[Any], tuple[float, ...]],
    rounds: int = SELECTION_ROUNDS,
) -> list[float]:
    """Weights for ``predictions`` (one array per model, same rows), picked greedily.

    Each round adds the model whose addition to the running average gives the highest
    ``quality`` (compared as tuples: the metric first, a tie-breaker after); the weights are
    those of the best round, so selection never ends worse than its best single pick.
    """
    import numpy as np

    counts = np.zeros(len(predictions))
    total: Any = None
    best_weights: list[float] = []
    best_quality: tuple[float, ...] | None = None
    for picked in range(rounds):
        trials = [
            prediction if total is None else (total + prediction) / (picked + 1)
            for prediction in predictions
        ]
        qualities = [quality(trial) for trial in trials]
        choice = max(range(len(predictions)), key=qualities.__getitem__)
        counts[choice] += 1
        total = predictions[choice] if total is None else total + predictions[choice]
        if best_quality is None or qualities[choice] > best_quality:
            best_quality = qualities[choice]
            best_weights = [float(count) / (picked + 1) for count in counts]
    return best_weights


class WeightedEnsemble:
    """Fitted models whose predictions are averaged with ``weights`` (summing to 1).

    Every member has its own preprocessing, so the ensemble takes raw rows. ``classes`` are
    the ensemble's sorted class labels (``None`` for regression); a member that saw only some
    of them gives the others probability 0.
    """

    def __init__(self, members: list[Model], weights: list[float], classes: Any = None) -> None:
        self.members = members
        self.weights = weights
        self.classes = classes

    def predict_proba(self, X: Any) -> Any:
        import numpy as np

        proba = np.zeros((X.shape[0], len(self.classes)))
        for member, weight in zip(self.members, self.weights, strict=True):
            columns = np.searchsorted(self.classes, member.classes_)
            proba[:, columns] += weight * member.predict_proba(X)
        return proba

    def predict(self, X: Any) -> Any:
        """Class indices (classification) or values (regression), as backends' estimators."""
        if self.classes is not None:
            return self.predict_proba(X).argmax(axis=1)
        return sum(
            weight * member.predict(X)
            for member, weight in zip(self.members, self.weights, strict=True)
        )


def ensemble_model(members: list[Model], weights: list[float], seed: int) -> Model:
    """A fitted ``Model`` (model ``"ensemble"``) averaging ``members``, fitted on the same
    columns and task, with ``weights``; ``package.save`` writes it as any model."""
    from modelyard.learn.model import Model
    from modelyard.learn.models import get_spec

    first = members[0]
    model = Model(model="ensemble", task=first.task_, seed=seed)
    model.task_ = first.task_
    model.spec_ = get_spec("ensemble")
    model.input_kind_ = first.input_kind_
    model.n_features_in_ = first.n_features_in_
    if hasattr(first, "feature_names_in_"):
        model.feature_names_in_ = first.feature_names_in_
    model.schema_ = first.schema_
    model.preprocessor_ = None
    classes = None
    if first.task_ == "classification":
        import numpy as np

        classes = np.unique(np.concatenate([member.classes_ for member in members]))
        model.classes_ = classes
    model.estimator_ = WeightedEnsemble(members, weights, classes)
    return model
