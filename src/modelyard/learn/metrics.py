"""Hold-out and cross-validation metrics, the same for every backend."""

from __future__ import annotations

from typing import Any

from modelyard.learn.registry import Task

# The metric ``compare`` ranks by (higher is better).
PRIMARY: dict[Task, str] = {"classification": "accuracy", "regression": "r2"}


def classification_metrics(y_true: Any, predicted: Any, proba: Any | None) -> dict[str, float]:
    """Accuracy, balanced accuracy, macro F1, and ROC AUC / log loss when probabilities exist."""
    import numpy as np
    from sklearn import metrics

    result = {
        "accuracy": metrics.accuracy_score(y_true, predicted),
        "balanced_accuracy": metrics.balanced_accuracy_score(y_true, predicted),
        "f1_macro": metrics.f1_score(y_true, predicted, average="macro"),
    }
    if proba is not None and len(np.unique(y_true)) > 1:
        labels = np.arange(proba.shape[1])
        result["log_loss"] = metrics.log_loss(y_true, proba, labels=labels)
        if proba.shape[1] == 2:
            result["roc_auc"] = metrics.roc_auc_score(y_true, proba[:, 1])
        elif len(np.unique(y_true)) == proba.shape[1]:
            result["roc_auc"] = metrics.roc_auc_score(
                y_true, proba, multi_class="ovr", labels=labels
            )
    return {name: round(float(value), 6) for name, value in result.items()}


def regression_metrics(y_true: Any, predicted: Any) -> dict[str, float]:
    """R², RMSE and MAE."""
    import numpy as np
    from sklearn import metrics

    result = {
        "r2": metrics.r2_score(y_true, predicted),
        "rmse": float(np.sqrt(metrics.mean_squared_error(y_true, predicted))),
        "mae": metrics.mean_absolute_error(y_true, predicted),
    }
    return {name: round(float(value), 6) for name, value in result.items()}
