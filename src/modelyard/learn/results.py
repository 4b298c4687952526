"""Result records shared by the single-machine and Spark engines."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True, kw_only=True)
class TrainSummary:
    """What ``train`` reports on either engine: the model, its hold-out metrics, the package
    and the columns it dropped. ``to_dict`` is the JSON of ``modelyard train --json``."""

    model: str
    backend: str
    task: str
    metrics: dict[str, float]
    package: Path | None = None
    dropped: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "backend": self.backend,
            "task": self.task,
            "metrics": self.metrics,
            "package": str(self.package) if self.package else None,
        }


@dataclass(frozen=True)
class LeaderboardEntry:
    """One candidate's cross-validated score (mean and spread over folds).

    After a search (``compare`` with a time budget), ``params`` are the best configuration's
    hyperparameters (an ensemble's: its members' weights) and ``trials`` how many ran.
    """

    model: str
    backend: str
    score: float
    std: float
    fit_seconds: float
    params: dict[str, Any] | None = None
    trials: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """The entry's fields; ``params`` and ``trials`` only when a search set them."""
        return {name: value for name, value in asdict(self).items() if value is not None}
