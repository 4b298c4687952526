"""The registry of named models across every installed backend."""

from __future__ import annotations

from typing import Any

from modelyard.learn.backends.base import Backend
from modelyard.learn.errors import UnknownModelError
from modelyard.learn.registry import DataKind, ModelSpec, Task

DEFAULT_MODEL = "lightgbm"
DEFAULT_ARRAY_MODEL = "keras.cnn"


def local_backends() -> tuple[Backend[ModelSpec], ...]:
    """Every single-machine backend, installed or not."""
    from modelyard.learn.backends import ensemble, keras, lightgbm, onnx, pymc, sklearn, xgboost

    return (sklearn, xgboost, lightgbm, keras, pymc, onnx, ensemble)


def all_backends() -> tuple[Backend[Any], ...]:
    """Every backend, the Spark engine's included, installed or not."""
    from modelyard.learn.backends import spark

    return (*local_backends(), spark)


def installed_backends() -> dict[str, Backend[ModelSpec]]:
    """Backend name -> backend, for the single-machine backends whose framework is installed."""
    return {backend.NAME: backend for backend in local_backends() if backend.available()}


def all_specs() -> list[ModelSpec]:
    """Every model of every installed backend, in a stable order."""
    return [spec for backend in installed_backends().values() for spec in backend.model_specs()]


def get_spec(name: str) -> ModelSpec:
    """The model called ``name``; raises ``UnknownModelError`` listing the choices."""
    specs = {spec.name: spec for spec in all_specs()}
    try:
        return specs[name]
    except KeyError:
        raise UnknownModelError(
            f"no model called {name!r}", hint=f"choose one of: {', '.join(specs)}"
        ) from None


def candidates(task: Task, data: DataKind) -> list[ModelSpec]:
    """The models ``compare`` tries for a task on this kind of data."""
    return [
        spec for spec in all_specs() if spec.trainable and task in spec.tasks and spec.data == data
    ]


def backend_of(spec: ModelSpec) -> Backend[ModelSpec]:
    """The backend that fits, saves and loads ``spec``'s estimators."""
    return installed_backends()[spec.backend]
