"""Keras ``.keras`` and legacy ``.h5`` models: Lambda layers and objects from outside Keras."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile

import pytest

from modelyard.runtime import configure_keras
from modelyard.scan import scan
from tests.scan.conftest import rule_ids

configure_keras()
keras = pytest.importorskip("keras")

LOAD = """
import os, sys
os.environ["KERAS_BACKEND"] = "torch"
import keras
keras.saving.load_model(sys.argv[1], safe_mode=False)
"""


def lambda_model(marker):
    inputs = keras.Input((3,))
    # The path is a constant of the lambda's code: Keras cannot restore default arguments.
    touch = eval(f"lambda x: (__import__('pathlib').Path({str(marker)!r}).touch(), x)[1]")
    return keras.Model(inputs, keras.layers.Lambda(touch)(inputs))


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_lambda_layer_is_unsafe_and_live(tmp_path, suffix):
    marker = tmp_path / "ran"
    path = tmp_path / f"model{suffix}"
    lambda_model(marker).save(path)
    marker.unlink()  # building the model called the Lambda once
    result = scan(path).files[0]
    assert result.verdict == "unsafe"
    assert "MY-KER-001" in rule_ids(result)
    assert not marker.exists()  # scanning ran nothing
    subprocess.run([sys.executable, "-c", LOAD, str(path)], check=True, capture_output=True)
    assert marker.exists()  # the real loader runs the Lambda's code


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_real_models_are_safe(tmp_path, suffix):
    model = keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Conv2D(4, 3, activation="relu"),
            keras.layers.Flatten(),
            keras.layers.Dense(3, activation="softmax"),
        ]
    )
    model.save(tmp_path / f"cnn{suffix}")
    lstm = keras.Sequential([keras.Input((5, 2)), keras.layers.LSTM(4), keras.layers.Dense(1)])
    lstm.save(tmp_path / f"lstm{suffix}")
    report = scan(tmp_path)
    assert report.verdict == "safe", [(f.path, f.findings) for f in report.files]


def test_custom_object_module_is_judged(tmp_path):
    path = tmp_path / "custom.keras"
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.save(path)
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    config = json.loads(members["config.json"])
    config["config"]["layers"][0]["module"] = "mylib.layers"
    layer = config["config"]["layers"][-1]
    layer["module"], layer["class_name"] = "os", "system"
    members["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    result = scan(path).files[0]
    assert {"MY-KER-002", "MY-PKL-001"} <= rule_ids(result)
    assert result.verdict == "unsafe"


@pytest.mark.parametrize("prefix", ["stub", "hdf5"])
def test_keras_archive_behind_other_content_is_read_as_keras_reads_it(tmp_path, prefix):
    # zipfile finds an archive from its end: Keras opens a .keras zip after a stub or after a
    # whole HDF5 model (a polyglot whose first bytes say HDF5).
    marker = tmp_path / "ran"
    archive = tmp_path / "lambda.keras"
    lambda_model(marker).save(archive)
    marker.unlink()
    if prefix == "hdf5":
        keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)]).save(tmp_path / "plain.h5")
        head = (tmp_path / "plain.h5").read_bytes()
    else:
        head = b"#!/bin/sh\nexit 0\n"
    path = tmp_path / "model.keras"
    path.write_bytes(head + archive.read_bytes())
    result = scan(path).files[0]
    assert result.verdict == "unsafe"
    assert {"MY-ARC-005", "MY-KER-001"} <= rule_ids(result)
    subprocess.run([sys.executable, "-c", LOAD, str(path)], check=True, capture_output=True)
    assert marker.exists()

    archive.unlink()
    keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)]).save(archive)
    path.write_bytes(head + archive.read_bytes())
    assert scan(path).files[0].verdict == "safe"  # the stub alone is no reason to alarm
