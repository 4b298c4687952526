"""Decide whether a target asks for classification or regression, and check it can be learned."""

from __future__ import annotations

from typing import Any

from modelyard.data.errors import UnusableTargetError
from modelyard.learn.registry import Task, TaskOrAuto

# Integer targets with at most this many distinct values are treated as classes.
_MAX_INTEGER_CLASSES = 20


def resolve_task(task: TaskOrAuto, y: Any, name: str) -> Task:
    """The task asked for, or the one ``y`` suggests for ``"auto"``, once ``y`` (the target
    called ``name``) is known to be learnable for it; raises ``UnusableTargetError``."""
    resolved = infer_task(y) if task == "auto" else task
    check_target(y, resolved, name)
    return resolved


def infer_task(y: Any) -> Task:
    """Classification for strings, booleans, categories and few distinct integers."""
    import numpy as np
    import pandas as pd

    values = pd.Series(np.asarray(y).ravel()) if not isinstance(y, pd.Series) else y
    present = values.dropna()
    if not pd.api.types.is_numeric_dtype(present) or pd.api.types.is_bool_dtype(present):
        return "classification"
    whole = np.all(np.mod(present.to_numpy(dtype=float), 1) == 0)
    if whole and present.nunique() <= _MAX_INTEGER_CLASSES:
        return "classification"
    return "regression"


def check_target(y: Any, task: Task, name: str) -> None:
    """Raise ``UnusableTargetError`` for targets that cannot be learned."""
    import numpy as np
    import pandas as pd

    values = pd.Series(np.asarray(y).ravel())
    present = values.dropna()
    if present.empty:
        raise UnusableTargetError(f"target {name!r} has no values")
    if task == "classification":
        # Labels are compared as text (1 and "1" are one class); numbers need no conversion.
        labels = present if pd.api.types.is_numeric_dtype(present) else present.astype(str)
        if labels.nunique() < 2:
            raise UnusableTargetError(
                f"target {name!r} has only one class ({str(labels.iloc[0])!r})",
                hint="classification needs at least two classes",
            )
    elif not pd.api.types.is_numeric_dtype(present):
        raise UnusableTargetError(
            f"target {name!r} is not numeric, so it cannot be a regression target",
            hint="use --task classification",
        )
