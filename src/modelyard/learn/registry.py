"""Named models of every single-machine backend, what each needs from preprocessing, and the
closed vocabularies of the learning jobs (tasks, engines)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

Task = Literal["classification", "regression"]
TaskOrAuto = Literal["auto", Task]
"""What callers may ask for: a task, or ``"auto"`` to infer it from the target."""
Clustering = Literal["clustering"]
"""The task only the Spark engine does (k-means)."""
Engine = Literal["local", "spark"]
"""Where a job runs: on this machine, or on Spark (data read and kept by Spark)."""
DEFAULT_MASTER = "local[*]"
"""The Spark master a Spark job uses unless told otherwise: Spark in this process."""
DataKind = Literal["table", "array"]
Inference = Literal["nuts", "advi"]
"""How a Bayesian model draws its posterior: NUTS sampling, or ADVI (variational, faster)."""

EpochProgress = Callable[[int, int, dict[str, float]], None]
"""Called as ``progress(epoch, epochs, logs)`` after each epoch of models that train in epochs."""


@dataclass(frozen=True)
class EarlyStopping:
    """Rows a boosting model watches while it trains: it stops adding rounds once its score on
    them stops improving, or once ``deadline`` (a ``time.monotonic()`` instant) has passed."""

    X: Any
    y: Any
    deadline: float | None = None
    patience: int = 50


@dataclass(frozen=True)
class ModelSpec:
    """A model users can ask for by name (``modelyard train --model NAME``).

    ``factory(task, seed)`` returns an unfitted scikit-learn-compatible estimator. ``data`` says
    whether it takes preprocessed 2-D tables or n-D arrays (images, sequences from ``.npz``).
    The flags tell preprocessing what the model needs: scaled numbers, categories left as
    pandas categoricals for native handling, or sparse input kept sparse. A model that is not
    ``trainable`` only runs models made elsewhere (``onnx``). ``intervals`` says the fitted
    estimator also gives posterior intervals (``predict_interval``).
    """

    name: str
    backend: str
    tasks: frozenset[Task]
    factory: Callable[[Task, int], Any]
    summary: str = ""
    data: DataKind = "table"
    needs_scaling: bool = False
    native_categorical: bool = False
    accepts_sparse: bool = False
    max_rows: int | None = None
    trainable: bool = True
    intervals: bool = False
