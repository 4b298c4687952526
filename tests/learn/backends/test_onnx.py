"""The ``onnx`` backend: imported models run by onnxruntime, never trained."""

from __future__ import annotations

import numpy as np
import pytest

from modelyard.learn.backends import onnx as onnx_backend
from modelyard.learn.errors import LearnError
from modelyard.learn.model import Model
from modelyard.learn.models import candidates

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")


def linear_softmax(weights: np.ndarray) -> bytes:
    """An ONNX model: ``softmax(x @ weights)`` with outputs ``scores`` and ``probabilities``."""
    from onnx import TensorProto, helper, numpy_helper

    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["x", "w"], ["scores"]),
            helper.make_node("Softmax", ["scores"], ["prob"], axis=1),
        ],
        "linear",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", weights.shape[0]])],
        [
            helper.make_tensor_value_info("prob", TensorProto.FLOAT, ["N", weights.shape[1]]),
            helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["N", weights.shape[1]]),
        ],
        [numpy_helper.from_array(weights.astype(np.float32), "w")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    onnx.checker.check_model(model)
    return model.SerializeToString()


def test_runs_a_model_and_round_trips_through_its_directory(tmp_path):
    weights = np.random.default_rng(0).normal(size=(4, 3))
    model = onnx_backend.OnnxModel(linear_softmax(weights), "classification")
    X = np.random.default_rng(1).normal(size=(5, 4))

    outputs = model.outputs(X)
    assert list(outputs) == ["prob", "scores"]
    np.testing.assert_allclose(outputs["scores"], X @ weights, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(model.predict(X), (X @ weights).argmax(axis=1))
    assert onnx_backend.save_estimator(model, tmp_path) == [onnx_backend.FILE]
    loaded = onnx_backend.load_estimator(tmp_path, "classification")
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))


def test_inputs_come_by_name_and_missing_ones_are_named():
    model = onnx_backend.OnnxModel(linear_softmax(np.eye(2)), "regression")
    np.testing.assert_allclose(model.predict({"x": np.ones((1, 2))}), [[0.5, 0.5]])
    with pytest.raises(LearnError, match="no array for the model's input\\(s\\): x"):
        model.outputs({"y": np.ones((1, 2))})


def test_is_never_trained_nor_compared():
    assert all(spec.backend != "onnx" for spec in candidates("classification", "array"))
    with pytest.raises(LearnError, match="onnx models are imported, not trained"):
        Model(model="onnx").fit(np.ones((20, 2, 2)), np.arange(20) % 2)
