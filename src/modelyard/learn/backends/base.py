"""The contract every backend fulfils, so the registry and the package treat each framework alike.

A backend is a module (``learn/backends/sklearn.py``, ``spark.py``, ...) whose top-level names
satisfy ``Backend`` structurally; ``models.installed_backends`` types them as such, so mypy checks
every module against this contract.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, TypeVar, runtime_checkable

from modelyard.learn.registry import Task

SpecT_co = TypeVar("SpecT_co", covariant=True)


@runtime_checkable
class Backend(Protocol[SpecT_co]):
    """One framework: the models it offers, and how to fit, save and load their estimators.

    ``SpecT_co`` is the backend's model description: ``registry.ModelSpec`` for the
    single-machine backends, ``spark.SparkModel`` for Spark.
    """

    NAME: str
    """The backend's name; every model it offers is called ``NAME`` or ``NAME.<model>``."""

    def available(self) -> bool:
        """Whether the framework is installed; must not import it."""
        ...

    def model_specs(self) -> Sequence[SpecT_co]:
        """Every model the backend offers, names unique, in a stable order."""
        ...

    def fit_estimator(self, estimator: Any, X: Any, y: Any, categorical: list[int]) -> Any:
        """Fit ``estimator`` and return the fitted estimator.

        ``X`` holds preprocessed features and ``categorical`` the indices of its ordinal-coded
        category columns (backends with native category support use them; others ignore
        them). Must not mutate ``X`` or ``y``.
        """
        ...

    def save_estimator(self, estimator: Any, directory: Path) -> list[str]:
        """Write the fitted ``estimator`` into the existing ``directory`` in a safe format.

        Returns the paths written, relative to ``directory`` (POSIX separators); nothing else is
        written, so a package can hash exactly these files.
        """
        ...

    def load_estimator(self, directory: Path, task: Task) -> Any:
        """Read back what ``save_estimator`` wrote; its ``predict`` gives the same results.

        Reads data only, never code: no pickle, nothing the file could make it import or run.
        """
        ...


@runtime_checkable
class StopsEarly(Protocol):
    """A backend whose estimators train in rounds and can stop early (the boosting libraries)."""

    def fit_stopping_early(
        self,
        estimator: Any,
        X: Any,
        y: Any,
        categorical: list[int],
        valid: tuple[Any, Any],
        deadline: float | None,
        patience: int,
    ) -> Any:
        """As ``Backend.fit_estimator``, adding rounds until the score on ``valid`` (features and
        target, preprocessed as ``X`` and ``y``) has not improved for ``patience`` rounds, or
        until the ``time.monotonic()`` instant ``deadline``; the fitted estimator predicts with
        its best round."""
        ...

    def best_rounds(self, estimator: Any) -> int:
        """The number of rounds a ``fit_stopping_early`` estimator kept."""
        ...
