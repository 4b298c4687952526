"""Result records shared by the single-machine and Spark engines."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LeaderboardEntry:
    """One candidate's cross-validated score (mean and spread over folds)."""

    model: str
    backend: str
    score: float
    std: float
    fit_seconds: float
