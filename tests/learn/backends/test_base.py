"""Every backend, Spark's included, against the ``Backend`` contract of ``backends/base.py``."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_iris

from modelyard.learn.backends.base import Backend
from modelyard.learn.backends.spark import SparkModel
from modelyard.learn.models import all_backends, local_backends
from modelyard.learn.registry import ModelSpec

BACKENDS = all_backends()
LOCAL = local_backends()


@pytest.mark.parametrize("backend", BACKENDS, ids=[backend.NAME for backend in BACKENDS])
def test_backend_offers_uniquely_named_models_under_its_name(
    backend: Backend[ModelSpec | SparkModel],
) -> None:
    assert isinstance(backend, Backend)
    assert isinstance(backend.available(), bool)
    if not backend.available():
        pytest.skip(f"{backend.NAME} is not installed")
    specs = backend.model_specs()
    names = [spec.name for spec in specs]
    assert names and len(set(names)) == len(names)
    assert all(name == backend.NAME or name.startswith(f"{backend.NAME}.") for name in names)
    assert all(spec.tasks for spec in specs)
    assert all(spec.backend == backend.NAME for spec in specs if isinstance(spec, ModelSpec))


# Spark's fit, save and load run inside its packages: tests/learn/spark/test_packaging.py.
@pytest.mark.parametrize("backend", LOCAL, ids=[backend.NAME for backend in LOCAL])
def test_backend_round_trips_an_estimator_without_touching_its_input(
    backend: Backend[ModelSpec], tmp_path
) -> None:
    if not backend.available():
        pytest.skip(f"{backend.NAME} is not installed")
    if not any(spec.trainable for spec in backend.model_specs()):
        pytest.skip(f"{backend.NAME} is not trained directly: see its own tests")
    spec = next(spec for spec in backend.model_specs() if spec.data == "table")
    X, y = load_iris(return_X_y=True)
    X_before, y_before = X.copy(), y.copy()

    fitted = backend.fit_estimator(spec.factory("classification", 0), X, y, [])
    written = backend.save_estimator(fitted, tmp_path)
    loaded = backend.load_estimator(tmp_path, "classification")

    assert np.array_equal(X, X_before) and np.array_equal(y, y_before)
    on_disk = {path.relative_to(tmp_path).as_posix() for path in tmp_path.rglob("*")}
    assert written and set(written) == {name for name in on_disk if (tmp_path / name).is_file()}
    np.testing.assert_array_equal(loaded.predict(X), fitted.predict(X))
