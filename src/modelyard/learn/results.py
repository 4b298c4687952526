"""Result records shared by the single-machine and Spark engines."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class HoldoutEvaluation:
    """What ``train``'s metrics describe: ``holdout_rows`` of ``rows`` (those with a known
    target) held out and scored; the saved model was then ``refitted`` on all ``rows``, or is
    the measured one, fitted on the rest."""

    rows: int
    holdout_rows: int
    refitted: bool

    @property
    def summary(self) -> str:
        """One sentence for the terminal and the model card."""
        share = self.holdout_rows / self.rows if self.rows else 0.0
        measured = (
            f"Measured on a {share:.0%} hold-out ({self.holdout_rows:,} of {self.rows:,} rows)"
        )
        if self.refitted:
            return f"{measured}; final model refitted on all {self.rows:,} rows."
        fitted = self.rows - self.holdout_rows
        return f"{measured}; final model is the measured one, fitted on the other {fitted:,} rows."

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "summary": self.summary}


@dataclass(frozen=True, kw_only=True)
class TrainSummary:
    """What ``train`` reports on either engine: the model, its hold-out metrics (and what they
    describe), the package, the columns it dropped and the rows left out for a missing target.
    ``to_dict`` is the JSON of ``modelyard train --json``."""

    model: str
    backend: str
    task: str
    metrics: dict[str, float]
    package: Path | None = None
    dropped: dict[str, str] = field(default_factory=dict)
    evaluation: HoldoutEvaluation | None = None
    missing_target_rows: int = 0

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
