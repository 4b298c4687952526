"""Make the OpenVINO fixtures of tests/scan/formats (run once, by real OpenVINO; the tests never
import it).

OpenVINO is too heavy for the project's environment, so it runs in a venv of its own:

    python3 -m venv /tmp/ovvenv
    /tmp/ovvenv/bin/pip install openvino
    /tmp/ovvenv/bin/python scripts/openvino_fixtures.py tests/scan/formats/fixtures/openvino

Writes a small dense network as OpenVINO IR (``model.xml`` and its weights ``model.bin``), as
``openvino.save_model`` writes it, and checks that OpenVINO reads and compiles it back.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import openvino as ov
import openvino.opset13 as ops


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    x = ops.parameter([1, 4], np.float32, name="x")
    hidden = ops.relu(ops.matmul(x, ops.constant(rng.random((4, 8), np.float32)), False, False))
    hidden = ops.add(hidden, ops.constant(rng.random((1, 8), np.float32)))
    y = ops.matmul(hidden, ops.constant(rng.random((8, 3), np.float32)), False, False)
    model = ov.Model([ops.result(y)], [x], "dense")
    ov.save_model(model, out / "model.xml", compress_to_fp16=False)
    compiled = ov.Core().compile_model(out / "model.xml", "CPU")
    compiled(np.ones((1, 4), np.float32))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
