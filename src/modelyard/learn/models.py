"""The registry of named models across every installed backend."""

from __future__ import annotations

from types import ModuleType

from modelyard.learn.errors import UnknownModelError
from modelyard.learn.registry import DataKind, ModelSpec, Task

DEFAULT_MODEL = "lightgbm"
DEFAULT_ARRAY_MODEL = "keras.cnn"


def backend_modules() -> dict[str, ModuleType]:
    """Backend name -> module, for the backends whose framework is installed."""
    from modelyard.learn.backends import keras, lightgbm, sklearn, xgboost

    return {
        module.NAME: module for module in (sklearn, xgboost, lightgbm, keras) if module.available()
    }


def all_specs() -> list[ModelSpec]:
    """Every model of every installed backend, in a stable order."""
    return [spec for module in backend_modules().values() for spec in module.model_specs()]


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
    return [spec for spec in all_specs() if task in spec.tasks and spec.data == data]


def backend_of(spec: ModelSpec) -> ModuleType:
    return backend_modules()[spec.backend]
