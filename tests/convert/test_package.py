"""ONNX packages: written whole, scanned safe, loaded and run on arrays from the CLI."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from modelyard.package import load
from modelyard.scan import Verdict, scan
from tests.learn.backends.test_onnx import linear_softmax

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from modelyard.convert.package import save_onnx_package  # noqa: E402


@pytest.fixture
def package(tmp_path):
    weights = np.random.default_rng(0).normal(size=(4, 3))
    origin = {"format": "test", "files": {"w.bin": "0" * 64}, "check": "by hand"}
    model = onnx.load_from_string(linear_softmax(weights))
    directory = save_onnx_package(
        model, tmp_path / "pkg", task="classification", classes=[0, 1, 2], origin=origin
    )
    return directory, weights


def test_a_package_scans_safe_holds_no_pickle_and_says_where_it_came_from(package):
    directory, weights = package
    assert sorted(path.name for path in directory.iterdir()) == [
        "README.md",
        "model.onnx",
        "modelyard.json",
    ]
    assert scan(directory).verdict is Verdict.SAFE
    card = (directory / "README.md").read_text()
    assert "converted by modelyard from test to ONNX" in card
    assert "Checked: by hand" in card and "| w.bin |" in card
    model = load(directory)
    X = np.random.default_rng(1).normal(size=(6, 4))
    np.testing.assert_array_equal(model.predict(X), (X @ weights).argmax(axis=1))
    np.testing.assert_allclose(model.predict_proba(X).sum(axis=1), 1, rtol=1e-6)


def _cli(*args):
    modelyard = str(Path(sys.executable).with_name("modelyard"))
    return subprocess.run([modelyard, *map(str, args)], capture_output=True, text=True, timeout=600)


def test_predict_writes_the_first_output_as_npy_and_all_as_npz(package, tmp_path):
    directory, weights = package
    X = np.random.default_rng(2).normal(size=(3, 4)).astype(np.float32)
    np.save(tmp_path / "x.npy", X)

    first = _cli("predict", directory, tmp_path / "x.npy", "--out", tmp_path / "y.npy")
    assert first.returncode == 0, first.stderr
    scores = X @ weights
    expected = np.exp(scores) / np.exp(scores).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(np.load(tmp_path / "y.npy"), expected, rtol=1e-5)

    every = _cli("predict", directory, tmp_path / "x.npy", "--out", tmp_path / "y.npz")
    assert every.returncode == 0, every.stderr
    with np.load(tmp_path / "y.npz") as outputs:
        assert sorted(outputs.files) == ["prob", "scores"]
        np.testing.assert_allclose(outputs["scores"], scores, rtol=1e-5, atol=1e-6)

    missing = _cli("predict", directory, tmp_path / "x.npy")
    assert missing.returncode == 2 and "need --out Y.npy" in missing.stderr
