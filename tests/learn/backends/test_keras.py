"""Keras CNN and RNN models on arrays from ``.npz`` files, through the package."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_digits, load_iris

from modelyard.learn.api import predict, train
from modelyard.learn.backends.keras import KerasNetwork, load_estimator, save_estimator
from modelyard.scan import scan


@pytest.fixture
def digits_npz(tmp_path):
    digits = load_digits()
    path = tmp_path / "digits.npz"
    np.savez(path, X=digits.images[:600], y=digits.target[:600])
    return path


def test_cnn_on_digit_images(tmp_path, digits_npz):
    result = train(digits_npz, "y", model="keras.cnn", out=tmp_path / "cnn", seed=0)
    assert result.task == "classification"
    assert result.metrics["accuracy"] > 0.6
    assert scan(tmp_path / "cnn").verdict == "safe"
    predictions = predict(tmp_path / "cnn", digits_npz)
    assert len(predictions) == 600 and predictions["y"].isin(range(10)).all()


def test_rnn_on_sequences(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 12, 2)).astype("float32")
    y = (X[:, :, 0].sum(axis=1) > 0).astype(int)
    np.savez(tmp_path / "sequences.npz", X=X, y=y)
    result = train(tmp_path / "sequences.npz", "y", model="keras.rnn", out=tmp_path / "rnn")
    assert result.metrics["accuracy"] > 0.7
    assert predict(tmp_path / "rnn", tmp_path / "sequences.npz")["y"].isin([0, 1]).all()


def test_cnn_regression_on_one_dimensional_sequences(tmp_path):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(200, 16)).astype("float32")
    np.savez(tmp_path / "signal.npz", X=X, y=X.max(axis=1))
    result = train(tmp_path / "signal.npz", "y", model="keras.cnn", task="regression")
    assert result.task == "regression" and "r2" in result.metrics


def _fit_on_iris(seed: int = 0) -> KerasNetwork:
    X, y = load_iris(return_X_y=True)
    return KerasNetwork(architecture="mlp", epochs=5, seed=seed).fit(X, y)


def test_mlp_save_load_round_trip_gives_identical_predictions(tmp_path):
    network = _fit_on_iris()
    names = save_estimator(network, tmp_path)
    assert scan(*(tmp_path / name for name in names)).verdict == "safe"
    X = load_iris().data
    loaded = load_estimator(tmp_path, "classification")
    np.testing.assert_array_equal(loaded.predict_proba(X), network.predict_proba(X))


def test_same_seed_gives_same_predictions_and_clone_keeps_params():
    first, second = _fit_on_iris(seed=3), _fit_on_iris(seed=3)
    assert clone(first).get_params() == first.get_params()
    assert not hasattr(clone(first), "model_")
    X = load_iris().data
    np.testing.assert_array_equal(first.predict_proba(X), second.predict_proba(X))
