"""One scikit-learn-style interface over scikit-learn, XGBoost, LightGBM, Keras and Spark.

``Model`` is the estimator; ``train``, ``compare``, ``evaluate`` and ``predict`` are the jobs
the CLI runs. Imported lazily: frameworks load only when used.
"""

from __future__ import annotations

import importlib
from typing import Any

_PUBLIC = {
    "Model": "modelyard.learn.model",
    "train": "modelyard.learn.api",
    "compare": "modelyard.learn.api",
    "evaluate": "modelyard.learn.api",
    "predict": "modelyard.learn.api",
}

__all__ = list(_PUBLIC)


def __getattr__(name: str) -> Any:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'modelyard.learn' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
