"""Keras 3 networks on the torch backend: an MLP for tables, CNN and RNN for arrays.

Saved as Keras' own ``.keras`` file (config JSON + weights), loaded with ``safe_mode=True``.
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sklearn.base import BaseEstimator

from modelyard.learn.registry import EpochProgress, ModelSpec, Task
from modelyard.runtime import configure_keras

# Unpickling a fitted network (compare's workers send their fold models back) imports this
# module before Keras: choosing the backend here keeps Keras from looking for TensorFlow.
configure_keras()

NAME = "keras"
_MODEL_FILE = "model.keras"
_WRAPPER_FILE = "estimator.json"
_BOTH: frozenset[Task] = frozenset({"classification", "regression"})


def available() -> bool:
    return all(importlib.util.find_spec(name) for name in ("keras", "torch"))


class KerasNetwork(BaseEstimator):
    """A scikit-learn estimator around a small Keras network.

    ``architecture`` is ``"mlp"`` (2-D tables), ``"cnn"`` (``(n, steps)`` sequences with
    Conv1D; ``(n, h, w)`` or ``(n, h, w, c)`` images with Conv2D) or ``"rnn"`` (LSTM over
    ``(n, steps)`` or ``(n, steps, features)``). Targets are class codes ``0..k-1``
    (classification) or numbers (regression). Training stops early on a validation split.
    """

    def __init__(
        self,
        architecture: str = "mlp",
        task: str = "classification",
        epochs: int = 60,
        batch_size: int = 64,
        patience: int = 6,
        seed: int = 0,
        progress: EpochProgress | None = None,
    ) -> None:
        self.architecture = architecture
        self.task = task
        self.epochs = epochs
        self.batch_size = batch_size
        self.patience = patience
        self.seed = seed
        self.progress = progress

    def fit(self, X: Any, y: Any) -> KerasNetwork:
        with _one_torch_thread():
            return self._fit(X, y)

    def _fit(self, X: Any, y: Any) -> KerasNetwork:
        import numpy as np

        keras = _keras()
        keras.utils.set_random_seed(self.seed)
        X = self._shape(np.asarray(X, dtype="float32"))
        y = np.asarray(y)
        if self.task == "classification":
            self.n_outputs_ = int(y.max()) + 1
            self.classes_ = np.arange(self.n_outputs_)
            self.y_mean_, self.y_std_ = 0.0, 1.0
            target = y.astype("int64")
        else:
            self.n_outputs_ = 1
            self.y_mean_, self.y_std_ = float(y.mean()), float(y.std() or 1.0)
            target = ((y - self.y_mean_) / self.y_std_).astype("float32")
        # Keras validates on the last rows it is given; shuffle so they are not one class.
        order = np.random.default_rng(self.seed).permutation(len(X))
        X, target = X[order], target[order]
        self.model_ = self._build(keras, X)
        callbacks: list[Any] = [
            keras.callbacks.EarlyStopping(patience=self.patience, restore_best_weights=True)
        ]
        if self.progress is not None:
            callbacks.append(_progress_callback(keras, self.progress, self.epochs))
        validation = 0.1 if len(X) >= 50 else 0.0
        self.model_.fit(
            X,
            target,
            epochs=self.epochs,
            batch_size=self.batch_size,
            validation_split=validation,
            callbacks=callbacks if validation else callbacks[1:],
            verbose=0,
            shuffle=True,
        )
        self.n_features_in_ = int(np.prod(X.shape[1:]))
        return self

    def _shape(self, X: Any) -> Any:
        """Add the channel / feature axis the layers expect."""
        if self.architecture == "mlp":
            return X.reshape(len(X), -1)
        if self.architecture == "cnn" and X.ndim == 3:
            return X[..., None]  # grayscale images
        if X.ndim == 2 and self.architecture in ("cnn", "rnn"):
            return X[..., None]  # one value per step
        return X

    def _build(self, keras: Any, X: Any) -> Any:
        layers = keras.layers
        normalize = layers.Normalization(axis=None)
        normalize.adapt(X[: min(len(X), 5000)])
        inputs = keras.Input(shape=X.shape[1:])
        hidden = normalize(inputs)
        if self.architecture == "mlp":
            hidden = layers.Dense(64, activation="relu")(hidden)
            hidden = layers.Dropout(0.1)(hidden)
            hidden = layers.Dense(32, activation="relu")(hidden)
        elif self.architecture == "cnn" and X.ndim == 4:
            hidden = layers.Conv2D(16, 3, activation="relu", padding="same")(hidden)
            hidden = layers.MaxPooling2D(2)(hidden)
            hidden = layers.Conv2D(32, 3, activation="relu", padding="same")(hidden)
            hidden = layers.GlobalAveragePooling2D()(hidden)
        elif self.architecture == "cnn":
            hidden = layers.Conv1D(32, 3, activation="relu", padding="same")(hidden)
            hidden = layers.GlobalMaxPooling1D()(hidden)
        else:
            hidden = layers.LSTM(32)(hidden)
        hidden = layers.Dense(32, activation="relu")(hidden)
        if self.task == "classification":
            outputs = layers.Dense(self.n_outputs_, activation="softmax")(hidden)
            loss, metrics = "sparse_categorical_crossentropy", ["accuracy"]
        else:
            outputs = layers.Dense(1)(hidden)
            loss, metrics = "mse", []
        model = keras.Model(inputs, outputs)
        model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=loss, metrics=metrics)
        return model

    def _raw(self, X: Any) -> Any:
        import numpy as np

        with _one_torch_thread():
            return self.model_.predict(self._shape(np.asarray(X, dtype="float32")), verbose=0)

    def predict_proba(self, X: Any) -> Any:
        return self._raw(X)

    def predict(self, X: Any) -> Any:
        raw = self._raw(X)
        if self.task == "classification":
            return raw.argmax(axis=1)
        return raw.ravel() * self.y_std_ + self.y_mean_


def _progress_callback(keras: Any, progress: EpochProgress, epochs: int) -> Any:
    """A Keras callback reporting each epoch (built here: Keras is imported lazily)."""

    class ProgressCallback(keras.callbacks.Callback):
        def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
            progress(epoch + 1, epochs, dict(logs or {}))

    return ProgressCallback()


@contextmanager
def _one_torch_thread() -> Iterator[None]:
    """Small networks train fastest on one thread, and several threads competing for busy
    cores slow PyTorch down tenfold; the caller's setting is restored afterwards."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _keras() -> Any:
    configure_keras()
    import keras

    return keras


def _factory(architecture: str) -> Callable[[Task, int], KerasNetwork]:
    def make(task: Task, seed: int) -> KerasNetwork:
        return KerasNetwork(architecture=architecture, task=task, seed=seed)

    return make


def model_specs() -> list[ModelSpec]:
    return [
        ModelSpec(
            "keras.mlp", NAME, _BOTH, _factory("mlp"), "multi-layer perceptron", needs_scaling=True
        ),
        ModelSpec(
            "keras.cnn",
            NAME,
            _BOTH,
            _factory("cnn"),
            "convolutional network for images and sequences (.npz)",
            data="array",
        ),
        ModelSpec(
            "keras.rnn",
            NAME,
            _BOTH,
            _factory("rnn"),
            "LSTM network for sequences (.npz)",
            data="array",
        ),
    ]


def fit_estimator(estimator: Any, X: Any, y: Any, categorical: list[int]) -> Any:
    if hasattr(X, "toarray"):
        X = X.toarray()
    return estimator.fit(X, y)


def save_estimator(estimator: KerasNetwork, directory: Path) -> list[str]:
    estimator.model_.save(directory / _MODEL_FILE)
    wrapper = {
        "architecture": estimator.architecture,
        "task": estimator.task,
        "n_outputs": estimator.n_outputs_,
        "n_features_in": estimator.n_features_in_,
        "y_mean": estimator.y_mean_,
        "y_std": estimator.y_std_,
        "seed": estimator.seed,
    }
    (directory / _WRAPPER_FILE).write_text(json.dumps(wrapper, indent=2) + "\n", encoding="utf-8")
    return [_MODEL_FILE, _WRAPPER_FILE]


def load_estimator(directory: Path, task: Task) -> KerasNetwork:
    import numpy as np

    keras = _keras()
    wrapper = json.loads((directory / _WRAPPER_FILE).read_text(encoding="utf-8"))
    estimator = KerasNetwork(
        architecture=wrapper["architecture"], task=wrapper["task"], seed=wrapper["seed"]
    )
    estimator.model_ = keras.saving.load_model(directory / _MODEL_FILE, safe_mode=True)
    estimator.n_outputs_ = wrapper["n_outputs"]
    estimator.n_features_in_ = wrapper["n_features_in"]
    estimator.y_mean_, estimator.y_std_ = wrapper["y_mean"], wrapper["y_std"]
    estimator.classes_ = np.arange(estimator.n_outputs_)
    return estimator
