"""Caffe import: nets written here with seeded weights, checked against OpenCV's Caffe forward."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from modelyard.package import load
from modelyard.scan import Verdict, scan

pytest.importorskip("onnxruntime")
cv2 = pytest.importorskip("cv2")

from modelyard.convert import ConvertError, UnsupportedLayerError  # noqa: E402
from modelyard.convert.caffe import TOLERANCE, import_caffe  # noqa: E402
from modelyard.convert.caffe_schema import net_parameter_class  # noqa: E402

INPUT = 'layer {{ name: "data" type: "Input" top: "data" input_param {{ shape {{ {dims} }} }} }}\n'


def run(*args):
    modelyard = str(Path(sys.executable).with_name("modelyard"))
    return subprocess.run([modelyard, *map(str, args)], capture_output=True, text=True, timeout=600)


def write_model(tmp_path, body, weights, shape=(2, 3, 11, 11), name="net"):
    """A deploy.prototxt (an Input layer, then ``body``) and a caffemodel holding ``weights``."""
    dims = " ".join(f"dim: {size}" for size in shape)
    prototxt = tmp_path / f"{name}.prototxt"
    prototxt.write_text(f'name: "{name}"\n' + INPUT.format(dims=dims) + body, encoding="utf-8")
    net = net_parameter_class()(name=name)
    for layer_name, arrays in weights.items():
        layer = net.layer.add(name=layer_name)
        for array in arrays:
            blob = layer.blobs.add()
            blob.shape.dim.extend(array.shape)
            blob.data.extend(np.asarray(array, dtype=np.float32).ravel().tolist())
    caffemodel = tmp_path / f"{name}.caffemodel"
    caffemodel.write_bytes(net.SerializeToString())
    return prototxt, caffemodel


def opencv_forward(prototxt, caffemodel, sample, layer):
    net = cv2.dnn.readNetFromCaffe(str(prototxt), str(caffemodel))
    net.setInput(sample)
    return net.forward(layer)


def assert_matches_opencv(tmp_path, body, weights, last, shape=(2, 3, 11, 11)):
    prototxt, caffemodel = write_model(tmp_path, body, weights, shape)
    result = import_caffe(prototxt, caffemodel, tmp_path / "pkg")
    assert "match OpenCV" in result.check
    sample = np.random.default_rng(7).normal(size=shape).astype(np.float32)
    model = load(result.package)
    got = model.estimator_.outputs(sample)
    expected = opencv_forward(prototxt, caffemodel, sample, last)
    (output,) = got.values()
    np.testing.assert_allclose(
        output.reshape(expected.shape), expected, rtol=TOLERANCE, atol=TOLERANCE
    )
    return result


rng = np.random.default_rng(0)


def seeded(*shape):
    return rng.normal(scale=0.5, size=shape).astype(np.float32)


CONV = """layer { name: "conv" type: "Convolution" bottom: "data" top: "conv"
  convolution_param { num_output: 4 kernel_size: 3 stride: 2 pad: 1 } }
layer { name: "relu" type: "ReLU" bottom: "conv" top: "conv" }
"""

LAYERS = {
    "convolution_relu": (CONV, {"conv": [seeded(4, 3, 3, 3), seeded(4)]}, "relu"),
    "grouped_dilated_convolution": (
        """layer { name: "conv" type: "Convolution" bottom: "data" top: "conv"
  convolution_param { num_output: 6 kernel_h: 3 kernel_w: 2 group: 3 dilation: 2
    bias_term: false } }
""",
        {"conv": [seeded(6, 1, 3, 2)]},
        "conv",
    ),
    "max_pooling_with_ceil_rounding_and_pad": (
        """layer { name: "pool" type: "Pooling" bottom: "data" top: "pool"
  pooling_param { pool: MAX kernel_size: 3 stride: 2 pad: 1 } }
""",
        {},
        "pool",
    ),
    "average_pooling_with_ceil_rounding_and_pad": (
        """layer { name: "pool" type: "Pooling" bottom: "data" top: "pool"
  pooling_param { pool: AVE kernel_size: 3 stride: 2 pad: 1 } }
""",
        {},
        "pool",
    ),
    "average_pooling_with_pad_and_stride_one": (
        """layer { name: "pool" type: "Pooling" bottom: "data" top: "pool"
  pooling_param { pool: AVE kernel_size: 3 stride: 1 pad: 1 } }
""",
        {},
        "pool",
    ),
    "average_pooling_with_ceil_rounding": (
        """layer { name: "pool" type: "Pooling" bottom: "data" top: "pool"
  pooling_param { pool: AVE kernel_size: 2 stride: 2 } }
""",
        {},
        "pool",
    ),
    "global_pooling": (
        """layer { name: "pool" type: "Pooling" bottom: "data" top: "pool"
  pooling_param { pool: AVE global_pooling: true } }
""",
        {},
        "pool",
    ),
    "inner_product_softmax": (
        """layer { name: "fc" type: "InnerProduct" bottom: "data" top: "fc"
  inner_product_param { num_output: 5 } }
layer { name: "prob" type: "Softmax" bottom: "fc" top: "prob" }
""",
        {"fc": [seeded(5, 3 * 11 * 11), seeded(5)]},
        "prob",
    ),
    "batch_norm_scale": (
        """layer { name: "bn" type: "BatchNorm" bottom: "data" top: "data" }
layer { name: "scale" type: "Scale" bottom: "data" top: "data" scale_param { bias_term: true } }
""",
        {
            "bn": [seeded(3), np.abs(seeded(3)) + 0.5, np.array([2.0], np.float32)],
            "scale": [seeded(3), seeded(3)],
        },
        "scale",
    ),
    "eltwise_concat_dropout_flatten": (
        CONV
        + """layer { name: "conv2" type: "Convolution" bottom: "data" top: "conv2"
  convolution_param { num_output: 4 kernel_size: 3 stride: 2 pad: 1 } }
layer { name: "sum" type: "Eltwise" bottom: "conv" bottom: "conv2" top: "sum"
  eltwise_param { operation: SUM coeff: 0.5 coeff: -2 } }
layer { name: "prod" type: "Eltwise" bottom: "conv" bottom: "conv2" top: "prod"
  eltwise_param { operation: PROD } }
layer { name: "max" type: "Eltwise" bottom: "sum" bottom: "prod" top: "max"
  eltwise_param { operation: MAX } }
layer { name: "cat" type: "Concat" bottom: "max" bottom: "conv" top: "cat" }
layer { name: "drop" type: "Dropout" bottom: "cat" top: "cat" }
layer { name: "flat" type: "Flatten" bottom: "cat" top: "flat" }
""",
        {"conv": [seeded(4, 3, 3, 3), seeded(4)], "conv2": [seeded(4, 3, 3, 3), seeded(4)]},
        "flat",
    ),
    "lrn_sigmoid_tanh_power_leaky_prelu": (
        """layer { name: "lrn" type: "LRN" bottom: "data" top: "lrn"
  lrn_param { local_size: 3 alpha: 0.5 beta: 0.75 } }
layer { name: "leaky" type: "ReLU" bottom: "lrn" top: "leaky" relu_param { negative_slope: 0.1 } }
layer { name: "prelu" type: "PReLU" bottom: "leaky" top: "prelu" }
layer { name: "sig" type: "Sigmoid" bottom: "prelu" top: "sig" }
layer { name: "tanh" type: "TanH" bottom: "sig" top: "tanh" }
layer { name: "pow" type: "Power" bottom: "tanh" top: "pow"
  power_param { power: 2 scale: 0.5 shift: 1 } }
""",
        {"prelu": [seeded(3)]},
        "pow",
    ),
    "deconvolution": (
        """layer { name: "deconv" type: "Deconvolution" bottom: "data" top: "deconv"
  convolution_param { num_output: 4 kernel_size: 4 stride: 2 pad: 1 group: 1 } }
""",
        {"deconv": [seeded(3, 4, 4, 4), seeded(4)]},
        "deconv",
    ),
    "split_slice_crop_reshape": (
        """layer { name: "split" type: "Split" bottom: "data" top: "a" top: "b" }
layer { name: "slice" type: "Slice" bottom: "a" top: "s1" top: "s2"
  slice_param { axis: 1 slice_point: 1 } }
layer { name: "swap" type: "Concat" bottom: "s2" bottom: "s1" top: "swapped" }
layer { name: "small" type: "Pooling" bottom: "b" top: "small"
  pooling_param { pool: MAX kernel_size: 3 stride: 1 } }
layer { name: "crop" type: "Crop" bottom: "swapped" bottom: "small" top: "crop"
  crop_param { axis: 2 offset: 2 offset: 1 } }
layer { name: "sum" type: "Eltwise" bottom: "crop" bottom: "small" top: "sum" }
layer { name: "reshape" type: "Reshape" bottom: "sum" top: "reshape"
  reshape_param { shape { dim: 0 dim: -1 dim: 9 } } }
""",
        {},
        "reshape",
    ),
    "scale_by_a_second_bottom": (
        """layer { name: "pool" type: "Pooling" bottom: "data" top: "pool"
  pooling_param { pool: AVE global_pooling: true } }
layer { name: "flat" type: "Flatten" bottom: "pool" top: "flat" }
layer { name: "scale" type: "Scale" bottom: "data" bottom: "flat" top: "scale"
  scale_param { axis: 0 } }
""",
        {},
        "scale",
    ),
    "scale_over_two_axes": (
        """layer { name: "scale" type: "Scale" bottom: "data" top: "scale"
  scale_param { axis: 1 num_axes: 2 bias_term: true } }
""",
        {"scale": [seeded(3, 11), seeded(3, 11)]},
        "scale",
    ),
    "lrn_within_channel": (
        """layer { name: "lrn" type: "LRN" bottom: "data" top: "lrn"
  lrn_param { local_size: 3 alpha: 0.5 beta: 0.75 norm_region: WITHIN_CHANNEL } }
""",
        {},
        "lrn",
    ),
    "reshape_of_some_axes": (
        """layer { name: "reshape" type: "Reshape" bottom: "data" top: "reshape"
  reshape_param { axis: 2 num_axes: 1 shape { dim: 1 dim: -1 } } }
layer { name: "back" type: "Reshape" bottom: "reshape" top: "back"
  reshape_param { axis: 2 num_axes: 2 shape { dim: 11 } } }
""",
        {},
        "back",
    ),
}


def caffe_reference(tmp_path, body, weights, sample):
    """The imported package's one output on ``sample``, and the check it reported."""
    tmp_path.mkdir(exist_ok=True)
    prototxt, caffemodel = write_model(tmp_path, body, weights, sample.shape)
    result = import_caffe(prototxt, caffemodel, tmp_path / "pkg")
    (got,) = load(result.package).estimator_.outputs(sample).values()
    return got, result.check


@pytest.mark.parametrize("case", list(LAYERS))
def test_layers_match_opencvs_caffe_forward(tmp_path, case):
    body, weights, last = LAYERS[case]
    assert_matches_opencv(tmp_path, body, weights, last)


def test_lrn_with_k_matches_caffes_formula(tmp_path):
    # OpenCV's Caffe reader drops LRN's k, so Caffe's formula is the reference here.
    body = """layer { name: "lrn" type: "LRN" bottom: "data" top: "lrn"
  lrn_param { local_size: 3 alpha: 0.5 beta: 0.75 k: 2 } }
"""
    prototxt, caffemodel = write_model(tmp_path, body, {})
    result = import_caffe(prototxt, caffemodel, tmp_path / "pkg")
    assert "OpenCV ignores the k of LRN layer 'lrn'" in result.check
    x = np.random.default_rng(3).normal(size=(2, 3, 11, 11)).astype(np.float32)
    squares = np.pad(x**2, ((0, 0), (1, 1), (0, 0), (0, 0)))
    window = squares[:, 0:3] + squares[:, 1:4] + squares[:, 2:5]
    expected = x * (2 + 0.5 / 3 * window) ** -0.75
    (got,) = load(result.package).estimator_.outputs(x).values()
    np.testing.assert_allclose(got, expected, rtol=TOLERANCE, atol=TOLERANCE)


def test_lrn_within_channel_matches_caffes_formula(tmp_path):
    """Caffe: x / (1 + alpha * mean of x^2 over a local_size square, zeros past the edges)^beta."""
    body = LAYERS["lrn_within_channel"][0]
    x = np.random.default_rng(3).normal(size=(2, 3, 11, 11)).astype(np.float32)
    got, _ = caffe_reference(tmp_path, body, {}, x)
    squares = np.pad(x**2, ((0, 0), (0, 0), (1, 1), (1, 1)))
    window = sum(squares[:, :, i : i + 11, j : j + 11] for i in range(3) for j in range(3))
    expected = x * (1 + 0.5 * window / 9) ** -0.75
    np.testing.assert_allclose(got, expected, rtol=TOLERANCE, atol=TOLERANCE)


def test_a_negative_reshape_axis_counts_from_the_end(tmp_path):
    # OpenCV refuses a negative axis; Caffe starts the replaced axes at rank + axis + 1.
    body = """layer { name: "reshape" type: "Reshape" bottom: "data" top: "reshape"
  reshape_param { axis: -2 shape { dim: 11 dim: 1 } } }
"""
    x = np.random.default_rng(6).normal(size=(2, 3, 11, 11)).astype(np.float32)
    got, _ = caffe_reference(tmp_path, body, {}, x)
    np.testing.assert_array_equal(got, x.reshape(2, 3, 11, 11, 1))  # the last axis: 11 -> 11, 1


def test_a_two_bottom_scale_adds_its_bias_as_caffe_does(tmp_path):
    # OpenCV adds this bias otherwise, so Caffe's formula is the reference here.
    body = LAYERS["scale_by_a_second_bottom"][0].replace("axis: 0", "axis: 0 bias_term: true")
    bias = seeded(2, 3)
    x = np.random.default_rng(4).normal(size=(2, 3, 11, 11)).astype(np.float32)
    got, check = caffe_reference(tmp_path, body, {"scale": [bias]}, x)
    assert "OpenCV adds the bias of two-bottom Scale layer 'scale' otherwise" in check
    factor = x.mean(axis=(2, 3))[:, :, None, None]
    np.testing.assert_allclose(
        got, x * factor + bias[:, :, None, None], rtol=TOLERANCE, atol=TOLERANCE
    )


def test_stochastic_pooling_at_test_time_weights_each_value_by_its_share(tmp_path):
    """Caffe's test-time STOCHASTIC pooling: sum(x^2) / sum(x) per window (0 if the sum is 0);
    windows clipped to the input (ceil rounding). OpenCV does not run it."""
    body = """layer { name: "relu" type: "ReLU" bottom: "data" top: "relu" }
layer { name: "pool" type: "Pooling" bottom: "relu" top: "pool"
  pooling_param { pool: STOCHASTIC kernel_size: 3 stride: 2 } }
"""
    x = np.random.default_rng(5).normal(size=(2, 3, 10, 10)).astype(np.float32)
    x[0, 0, :3, :3] = -1  # a window whose sum is 0 after the ReLU
    got, check = caffe_reference(tmp_path, body, {}, x)
    assert "OpenCV does not run STOCHASTIC Pooling layer 'pool'" in check
    positive = np.maximum(x, 0)
    expected = np.zeros((2, 3, 5, 5), np.float32)
    for row in range(5):
        for column in range(5):
            window = positive[:, :, 2 * row : 2 * row + 3, 2 * column : 2 * column + 3]
            total = window.sum(axis=(2, 3))
            ratio = (window**2).sum(axis=(2, 3)) / np.where(total > 0, total, 1)
            expected[:, :, row, column] = np.where(total > 0, ratio, 0)
    assert got.shape == expected.shape and got[0, 0, 0, 0] == 0
    np.testing.assert_allclose(got, expected, rtol=TOLERANCE, atol=TOLERANCE)
    whole = body.replace("kernel_size: 3 stride: 2", "global_pooling: true")
    got, _ = caffe_reference(tmp_path / "global", whole, {}, x)
    totals = positive.sum(axis=(2, 3), keepdims=True)
    expected = (positive**2).sum(axis=(2, 3), keepdims=True) / totals
    np.testing.assert_allclose(got, expected, rtol=TOLERANCE, atol=TOLERANCE)


def test_a_classifier_package_scans_safe_and_says_where_it_came_from(tmp_path):
    body, weights, last = LAYERS["inner_product_softmax"]
    result = assert_matches_opencv(tmp_path, body, weights, last)
    assert scan(result.package).verdict is Verdict.SAFE
    assert sorted(path.name for path in result.package.iterdir()) == [
        "README.md",
        "model.onnx",
        "modelyard.json",
    ]
    model = load(result.package)
    assert model.task_ == "classification" and list(model.classes_) == [0, 1, 2, 3, 4]
    card = (result.package / "README.md").read_text()
    assert "converted by modelyard from Caffe" in card and "| net.caffemodel |" in card
    assert "match OpenCV" in card


def test_the_cli_imports_and_predicts(tmp_path):
    body, weights, last = LAYERS["convolution_relu"]
    prototxt, caffemodel = write_model(tmp_path, body, weights)
    done = run(
        "import",
        "caffe",
        prototxt,
        caffemodel,
        "--out",
        tmp_path / "pkg",
        "--input-shape",
        "1,3,9,9",
    )
    assert done.returncode == 0, done.stderr
    assert "input (1, 3, 9, 9)" in done.stdout and "match OpenCV" in done.stdout
    sample = np.random.default_rng(5).normal(size=(4, 3, 9, 9)).astype(np.float32)
    np.save(tmp_path / "x.npy", sample)
    done = run("predict", tmp_path / "pkg", tmp_path / "x.npy", "--out", tmp_path / "y.npy")
    assert done.returncode == 0, done.stderr
    expected = opencv_forward(prototxt, caffemodel, sample, last)
    np.testing.assert_allclose(
        np.load(tmp_path / "y.npy"), expected, rtol=TOLERANCE, atol=TOLERANCE
    )


def test_an_unsupported_layer_is_named_and_nothing_is_written(tmp_path):
    body = (
        CONV
        + 'layer { name: "py" type: "Python" bottom: "conv" top: "py"'
        + ' python_param { module: "evil" layer: "Layer" } }\n'
    )
    prototxt, caffemodel = write_model(tmp_path, body, {"conv": [seeded(4, 3, 3, 3), seeded(4)]})
    with pytest.raises(UnsupportedLayerError, match="layer 'py' has type 'Python'"):
        import_caffe(prototxt, caffemodel, tmp_path / "pkg")
    assert not (tmp_path / "pkg").exists()


def test_missing_weights_are_a_clear_error(tmp_path):
    prototxt, caffemodel = write_model(tmp_path, CONV, {})
    with pytest.raises(ConvertError, match="layer 'conv' \\(Convolution\\) needs 2 weight"):
        import_caffe(prototxt, caffemodel, tmp_path / "pkg")
    assert not (tmp_path / "pkg").exists()
