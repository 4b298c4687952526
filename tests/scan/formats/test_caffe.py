"""Caffe prototxt: plain layers are safe, Python layers are reported with their module."""

from __future__ import annotations

from modelyard.scan import scan
from tests.scan.conftest import rule_ids

LENET = """\
name: "LeNet"
layer { name: "data" type: "Input" top: "data"
        input_param { shape: { dim: 1 dim: 1 dim: 28 dim: 28 } } }
layer { name: "conv1" type: "Convolution" bottom: "data" top: "conv1"
        convolution_param { num_output: 20 kernel_size: 5 stride: 1 } }
layer { name: "prob" type: "Softmax" bottom: "conv1" top: "prob" }
"""

PYTHON_LAYER = """\
layer {
  name: "loss"
  type: "Python"
  bottom: "data"
  top: "loss"
  python_param { module: "%s" layer: "%s" }
}
"""


def test_plain_prototxt_is_safe(tmp_path):
    (tmp_path / "deploy.prototxt").write_text(LENET)
    result = scan(tmp_path / "deploy.prototxt").files[0]
    assert (result.format, result.verdict, result.findings) == ("caffe-prototxt", "safe", [])
    import cv2  # OpenCV's Caffe importer: proof that the sample is a real Caffe network

    assert cv2.dnn.readNetFromCaffe(str(tmp_path / "deploy.prototxt")).getLayerNames() == (
        "conv1",
        "prob",
    )


def test_python_layer_is_suspicious(tmp_path):
    (tmp_path / "train.prototxt").write_text(LENET + PYTHON_LAYER % ("my_layers", "Loss"))
    result = scan(tmp_path / "train.prototxt").files[0]
    assert result.verdict == "suspicious" and rule_ids(result) == {"MY-CAF-001"}
    assert result.findings[0].subject == "my_layers.Loss"


def test_python_layer_from_a_dangerous_module_is_unsafe(tmp_path):
    (tmp_path / "train.prototxt").write_text(PYTHON_LAYER % ("os", "system"))
    result = scan(tmp_path / "train.prototxt").files[0]
    assert result.verdict == "unsafe" and "MY-PKL-001" in rule_ids(result)
