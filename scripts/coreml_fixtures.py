"""Make the Core ML fixtures of tests/scan/formats (run once, by real coremltools; the tests
never import it).

coremltools is not part of the project's environment, so it runs in a venv of its own:

    python3 -m venv /tmp/coremlvenv
    /tmp/coremlvenv/bin/pip install coremltools
    /tmp/coremlvenv/bin/python scripts/coreml_fixtures.py tests/scan/formats/fixtures/coreml

Writes a neural network (``dense.mlmodel``), a pipeline of it and a custom model
(``pipeline_custom.mlmodel``), one with a custom layer (``custom_layer.mlmodel``) and an ML
program package (``program.mlpackage``), and reads each specification back.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import coremltools as ct
import numpy as np
from coremltools.converters.mil import Builder as mb
from coremltools.models import datatypes
from coremltools.models.neural_network import NeuralNetworkBuilder
from coremltools.models.pipeline import Pipeline
from coremltools.proto import Model_pb2, NeuralNetwork_pb2

INPUTS = [("x", datatypes.Array(4))]
OUTPUTS = [("y", datatypes.Array(3))]


def dense() -> Model_pb2.Model:
    builder = NeuralNetworkBuilder(INPUTS, OUTPUTS)
    weights = np.arange(12, dtype=np.float32).reshape(3, 4)
    builder.add_inner_product("fc", weights, np.zeros(3, np.float32), 4, 3, True, "x", "y")
    return builder.spec


def custom_layer() -> Model_pb2.Model:
    builder = NeuralNetworkBuilder(INPUTS, OUTPUTS)
    params = NeuralNetwork_pb2.CustomLayerParams(className="AcmeLayer", description="fast")
    builder.add_custom("acme", ["x"], ["y"], custom_proto_spec=params)
    builder.spec.specificationVersion = 4  # custom layers need Core ML 3
    return builder.spec


def pipeline_custom() -> Model_pb2.Model:
    custom = Model_pb2.Model(specificationVersion=4)
    custom.description.CopyFrom(dense().description)
    custom.customModel.className = "AcmeModel"
    pipeline = Pipeline(INPUTS, OUTPUTS)
    pipeline.add_model(dense())
    pipeline.add_model(custom)
    return pipeline.spec


@mb.program(input_specs=[mb.TensorSpec(shape=(1, 4))])
def _program(x):  # type: ignore[no-untyped-def]
    weight = np.random.default_rng(0).random((3, 4)).astype(np.float32)
    return mb.relu(x=mb.linear(x=x, weight=weight))


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for name, spec in (
        ("dense", dense()),
        ("custom_layer", custom_layer()),
        ("pipeline_custom", pipeline_custom()),
    ):
        ct.utils.save_spec(spec, str(out / f"{name}.mlmodel"))
        ct.utils.load_spec(str(out / f"{name}.mlmodel"))
    package = out / "program.mlpackage"
    shutil.rmtree(package, ignore_errors=True)
    ct.convert(_program, convert_to="mlprogram", skip_model_load=True).save(str(package))
    ct.utils.load_spec(str(package))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
