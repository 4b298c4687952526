"""Make the PaddlePaddle fixtures of tests/scan/formats (run once, by real Paddle; the tests
never import it).

Paddle is too heavy for the project's environment, so it runs in a venv of its own:

    python3 -m venv /tmp/paddlevenv
    /tmp/paddlevenv/bin/pip install paddlepaddle
    /tmp/paddlevenv/bin/python scripts/paddle_fixtures.py tests/scan/formats/fixtures/paddle

Writes a small network's ``paddle.save`` state dict (``model.pdparams``, a pickle) and its
``paddle.jit.save`` inference model in the ProgramDesc layout that hubs carry
(``inference.pdmodel``, ``inference.pdiparams`` and ``inference.pdiparams.info``).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

# Paddle 3 writes PIR JSON by default; hubs carry the ProgramDesc protobuf of Paddle 2.
os.environ["FLAGS_enable_pir_api"] = "0"  # noqa: SIM112 (Paddle's own spelling)

import paddle


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    paddle.seed(0)
    net = paddle.nn.Sequential(
        paddle.nn.Conv2D(3, 4, 3, padding=1),
        paddle.nn.BatchNorm2D(4),
        paddle.nn.ReLU(),
        paddle.nn.Flatten(),
        paddle.nn.Linear(4 * 8 * 8, 3),
    )
    paddle.save(net.state_dict(), str(out / "model.pdparams"))
    net.eval()
    spec = [paddle.static.InputSpec([None, 3, 8, 8], "float32", name="image")]
    paddle.jit.save(net, str(out / "inference"), input_spec=spec)
    loaded = paddle.jit.load(str(out / "inference"))  # Paddle reads back what it wrote
    loaded(paddle.ones([1, 3, 8, 8]))
    paddle.load(str(out / "model.pdparams"))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
