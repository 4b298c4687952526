"""One scikit-learn-style interface over scikit-learn, XGBoost, LightGBM, Keras and Spark.

``Model`` is the estimator; ``train``, ``compare``, ``evaluate`` and ``predict`` are the jobs
the CLI runs. Imported lazily: frameworks load only when used; type checkers see the names
through the ``TYPE_CHECKING`` imports below.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from modelyard.learn.api import compare, evaluate, predict, train
    from modelyard.learn.model import Model

_PUBLIC = {
    "Model": "modelyard.learn.model",
    "train": "modelyard.learn.api",
    "compare": "modelyard.learn.api",
    "evaluate": "modelyard.learn.api",
    "predict": "modelyard.learn.api",
}

__all__ = ["Model", "compare", "evaluate", "predict", "train"]


def __getattr__(name: str) -> Any:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'modelyard.learn' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return list(__all__)
