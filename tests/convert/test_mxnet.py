"""MXNet import, compared with outputs MXNet 1.9.1 itself saved (scripts/mxnet_fixtures.py)."""

from __future__ import annotations

import json
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from modelyard.package import load
from modelyard.scan import Verdict, scan

pytest.importorskip("onnxruntime")

from modelyard.convert import ConvertError, UnsupportedLayerError
from modelyard.convert.mxnet import import_mxnet
from modelyard.convert.mxnet_params import read_params

FIXTURES = Path(__file__).parent / "fixtures" / "mxnet"
TOLERANCE = 1e-5


@pytest.mark.parametrize(
    "prefix", ["zoo", "gluon", "gluonseq", "ops", "gelu", "bnaxis", "reshape", "bilinear"]
)
def test_matches_mxnets_own_outputs(tmp_path, prefix):
    """``zoo``: a Module.save_checkpoint; ``gluon``: a HybridBlock.export; ``gluonseq``: one
    over (batch, steps, features) with GELU and BatchNorm(axis=-1); ``ops``: the other
    operators (UpSampling, Deconvolution, Crop, PReLU, ELU, L2Normalization, slice_axis, ...);
    ``gelu``, ``bnaxis`` (BatchNorm on axes -1 and 2), ``reshape`` (``reverse=True``) and
    ``bilinear`` (UpSampling by 2 and 3, random weights) one operator each."""
    io = np.load(FIXTURES / f"{prefix}-io.npz")
    result = import_mxnet(
        FIXTURES / f"{prefix}-symbol.json",
        FIXTURES / f"{prefix}-0000.params",
        tmp_path / "pkg",
        input_shape=io["input"].shape,
    )
    (output,) = load(result.package).estimator_.outputs(io["input"]).values()
    np.testing.assert_allclose(output, io["output"], rtol=TOLERANCE, atol=TOLERANCE)
    assert scan(result.package).verdict is Verdict.SAFE
    assert "converted by modelyard from MXNet" in (result.package / "README.md").read_text()


def test_a_checkpoint_ending_in_softmax_is_a_classifier(tmp_path):
    result = import_mxnet(
        FIXTURES / "zoo-symbol.json",
        FIXTURES / "zoo-0000.params",
        tmp_path / "pkg",
        input_shape=(1, 3, 9, 9),
    )
    model = load(result.package)
    assert model.task_ == "classification" and list(model.classes_) == [0, 1, 2, 3, 4]


def test_params_of_every_dtype_read_as_mxnet_saved_them():
    arrays = read_params(FIXTURES / "dtypes.params")
    with np.load(FIXTURES / "dtypes-expected.npz") as expected:
        assert sorted(arrays) == sorted(expected.files)
        for name in expected.files:
            assert arrays[name].dtype == expected[name].dtype
            np.testing.assert_array_equal(arrays[name], expected[name])


def _ndarray_list(entries: list[bytes], names: list[str]) -> bytes:
    encoded = b"".join(struct.pack("<Q", len(name)) + name.encode() for name in names)
    header = struct.pack("<QQQ", 0x112, 0, len(entries))
    return header + b"".join(entries) + struct.pack("<Q", len(names)) + encoded


def test_v1_arrays_are_read_and_sparse_and_v3_refused(tmp_path):
    values = np.arange(6, dtype="<f4").reshape(2, 3)
    shape = struct.pack("<i2q", 2, 2, 3) + struct.pack("<ii", 1, 0) + struct.pack("<i", 0)
    v1 = struct.pack("<I", 0xF993FAC8) + shape + values.tobytes()
    (tmp_path / "v1.params").write_bytes(_ndarray_list([v1], ["arg:w"]))
    np.testing.assert_array_equal(read_params(tmp_path / "v1.params")["arg:w"], values)

    sparse = struct.pack("<Ii", 0xF993FAC9, 1) + shape
    (tmp_path / "sparse.params").write_bytes(_ndarray_list([sparse], ["arg:w"]))
    with pytest.raises(ConvertError, match=r"array 0 of sparse\.params is sparse"):
        read_params(tmp_path / "sparse.params")
    (tmp_path / "v3.params").write_bytes(_ndarray_list([struct.pack("<I", 0xF993FACA)], ["w"]))
    with pytest.raises(ConvertError, match="V3"):
        read_params(tmp_path / "v3.params")
    (tmp_path / "short.params").write_bytes(_ndarray_list([v1], ["arg:w"])[:40])
    with pytest.raises(ConvertError, match="truncated or damaged"):
        read_params(tmp_path / "short.params")


def test_an_unsupported_operator_is_named_and_nothing_is_written(tmp_path):
    symbol = json.loads((FIXTURES / "zoo-symbol.json").read_text())
    relu = next(node for node in symbol["nodes"] if node["name"] == "relu1")
    relu["op"] = "Custom"
    (tmp_path / "custom-symbol.json").write_text(json.dumps(symbol))
    with pytest.raises(UnsupportedLayerError, match="operator 'relu1' is 'Custom'"):
        import_mxnet(
            tmp_path / "custom-symbol.json",
            FIXTURES / "zoo-0000.params",
            tmp_path / "pkg",
            input_shape=(1, 3, 9, 9),
        )
    assert not (tmp_path / "pkg").exists()


@pytest.mark.parametrize("prefix", ["gluon", "gluonseq"])
def test_the_cli_imports_and_predicts(tmp_path, prefix):
    modelyard = str(Path(sys.executable).with_name("modelyard"))

    def run(*args):
        command = [modelyard, *map(str, args)]
        return subprocess.run(command, capture_output=True, text=True, timeout=600)

    io = np.load(FIXTURES / f"{prefix}-io.npz")
    shape = io["input"].shape
    done = run(
        "import",
        "mxnet",
        FIXTURES / f"{prefix}-symbol.json",
        FIXTURES / f"{prefix}-0000.params",
        "--input-shape",
        ",".join(map(str, shape)),
        "--out",
        tmp_path / "pkg",
    )
    assert done.returncode == 0, done.stderr
    assert f"input {shape}" in done.stdout
    np.save(tmp_path / "x.npy", io["input"])
    done = run("predict", tmp_path / "pkg", tmp_path / "x.npy", "--out", tmp_path / "y.npy")
    assert done.returncode == 0, done.stderr
    np.testing.assert_allclose(
        np.load(tmp_path / "y.npy"), io["output"], rtol=TOLERANCE, atol=TOLERANCE
    )


def test_the_cli_refuses_a_shape_that_is_no_sizes(tmp_path):
    modelyard = str(Path(sys.executable).with_name("modelyard"))
    symbol, params = FIXTURES / "gluon-symbol.json", FIXTURES / "gluon-0000.params"
    for shape in ("2,x,9", "2,0,9,9"):
        command = [modelyard, "import", "mxnet", symbol, params, "--input-shape", shape]
        done = subprocess.run(
            [*map(str, command), "-o", str(tmp_path / "p")], capture_output=True, text=True
        )
        assert done.returncode == 2 and "Traceback" not in done.stderr
        assert "--input-shape" in done.stderr
    assert not (tmp_path / "p").exists()


def _v2_float32(array: np.ndarray) -> bytes:
    """One dense float32 NDArray as MXNet's V2 format stores it (on the CPU)."""
    dims = struct.pack(f"<i{array.ndim}q", array.ndim, *array.shape)
    header = struct.pack("<Ii", 0xF993FAC9, 0) + dims + struct.pack("<iii", 1, 0, 0)
    return header + np.ascontiguousarray(array, dtype="<f4").tobytes()


def _one_operator(tmp_path, op: str, attrs: dict, weights: dict, sample: np.ndarray):
    """A symbol of one operator on ``data`` (then its weights, by name), imported and run."""
    tmp_path.mkdir(exist_ok=True)
    nodes = [{"op": "null", "name": "data", "inputs": []}]
    nodes += [{"op": "null", "name": name, "inputs": []} for name in weights]
    inputs = [[index, 0, 0] for index in range(len(nodes))]
    nodes.append({"op": op, "name": "op", "attrs": attrs, "inputs": inputs})
    symbol = {
        "nodes": nodes,
        "arg_nodes": list(range(len(nodes) - 1)),
        "heads": [[len(nodes) - 1, 0, 0]],
    }
    (tmp_path / "one-symbol.json").write_text(json.dumps(symbol))
    arrays = [_v2_float32(array) for array in weights.values()]
    (tmp_path / "one-0000.params").write_bytes(
        _ndarray_list(arrays, [f"arg:{name}" for name in weights])
    )
    result = import_mxnet(
        tmp_path / "one-symbol.json",
        tmp_path / "one-0000.params",
        tmp_path / "pkg",
        input_shape=sample.shape,
    )
    (output,) = load(result.package).estimator_.outputs(sample).values()
    return output


SAMPLE = np.random.default_rng(11).normal(size=(2, 3, 5, 4)).astype(np.float32)


def test_gelu_is_mxnets_exact_one(tmp_path):
    from math import erf

    got = _one_operator(tmp_path, "LeakyReLU", {"act_type": "gelu"}, {}, SAMPLE)
    expected = SAMPLE * (1 + np.vectorize(erf)(SAMPLE / np.sqrt(2))) / 2
    np.testing.assert_allclose(got, expected, rtol=TOLERANCE, atol=TOLERANCE)


def test_batch_norm_over_the_last_axis(tmp_path):
    rng = np.random.default_rng(12)
    gamma, beta, mean = (rng.normal(size=4).astype(np.float32) for _ in range(3))
    variance = rng.uniform(0.5, 2, size=4).astype(np.float32)
    weights = {"gamma": gamma, "beta": beta, "mean": mean, "var": variance}
    attrs = {"axis": "-1", "fix_gamma": "False", "eps": "0.001"}
    got = _one_operator(tmp_path, "BatchNorm", attrs, weights, SAMPLE)
    expected = (SAMPLE - mean) / np.sqrt(variance + 0.001) * gamma + beta
    np.testing.assert_allclose(got, expected, rtol=TOLERANCE, atol=TOLERANCE)


def test_reshape_reverse_reads_the_codes_from_the_right(tmp_path):
    # MXNet's own example: (10, 5, 4) with (-1, 0) is (40, 5) from the left, (50, 4) reversed.
    # Here (2, 3, 5, 4): from the right 0 keeps the 4 and -1 takes the rest.
    attrs = {"shape": "(-1, 0)", "reverse": "True"}
    got = _one_operator(tmp_path, "Reshape", attrs, {}, SAMPLE)
    np.testing.assert_array_equal(got, SAMPLE.reshape(30, 4))


def test_bilinear_upsampling_is_a_transposed_convolution_by_its_weight(tmp_path):
    """MXNet: Deconvolution with kernel 2s - s % 2, stride s, pad ceil((s - 1) / 2), one
    filter per channel; the reference adds each input value times the kernel into place."""
    scale, kernel, pad = 2, 4, 1
    weight = np.random.default_rng(13).normal(size=(3, 1, kernel, kernel)).astype(np.float32)
    attrs = {"sample_type": "bilinear", "scale": "2", "num_filter": "3", "num_args": "2"}
    got = _one_operator(tmp_path, "UpSampling", attrs, {"weight": weight}, SAMPLE)
    n, channels, height, width = SAMPLE.shape
    full = np.zeros((n, channels, (height - 1) * scale + kernel, (width - 1) * scale + kernel))
    for row in range(height):
        for column in range(width):
            value = SAMPLE[:, :, row, column][:, :, None, None]
            window = (
                slice(row * scale, row * scale + kernel),
                slice(column * scale, column * scale + kernel),
            )
            full[:, :, window[0], window[1]] += value * weight[:, 0]
    expected = full[:, :, pad : pad + height * scale, pad : pad + width * scale]
    np.testing.assert_allclose(got, expected, rtol=TOLERANCE, atol=TOLERANCE)
