"""ONNX in modelyard: exported packages under onnxruntime vs their native predict, and import time.

    python -m bench.onnx [--rows 10000] [--features 10] [--repeats 2000]
                         [--predict-rows 100000] [--megabytes 100]

1. predict: ``lightgbm`` and ``sklearn.random_forest`` regression packages, fitted on ``--rows``
   x ``--features``, exported to ONNX (``export_onnx``, its parity check included). Native
   ``predict`` of the loaded package vs onnxruntime (modelyard's ``OnnxModel``, one thread) on
   the same frame: the median latency of ``--repeats`` calls on 1 row (after warm-up), and one
   run on ``--predict-rows`` rows; the ratio is native time / onnxruntime time (above 1: ONNX
   is faster). Native threads are the package's own (LightGBM 1, random forest all cores).
2. import: ``modelyard import caffe`` and ``modelyard import mxnet`` (the CLI in a fresh process,
   start-up and checks included) on a generated net of about ``--megabytes`` of float32 weights
   (a convolution, max pooling and two fully connected layers ending in a softmax; the first
   fully connected layer holds nearly all of them), the same weights in both formats. The Caffe
   files are written as caffe.proto describes them; the MXNet ones as ``mx.nd.save`` and
   ``Module.save_checkpoint`` write them (``modelyard.convert.mxnet_params`` gives the layout).

Each predict measurement and each import runs in its own process.
"""

from __future__ import annotations

import argparse
import json
import os
import struct
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

MODELYARD = Path(sys.executable).with_name("modelyard")
MODELS = ("lightgbm", "sklearn.random_forest")
CHANNELS, SIDE, FILTERS, CLASSES = 32, 32, 64, 10  # the generated net's input and layer sizes
FLAT = FILTERS * (SIDE // 2) ** 2  # the first fully connected layer's input width

_PREDICT = textwrap.dedent(
    """
    import json, statistics, sys, time
    import numpy as np, pandas as pd
    from modelyard.convert.export import export_onnx
    from modelyard.learn import Model
    from modelyard.learn.backends.onnx import OnnxModel
    from modelyard.package import load, save

    name, rows, features, repeats, predict_rows, folder = sys.argv[1:]
    rows, features, repeats, predict_rows = map(int, (rows, features, repeats, predict_rows))

    def table(rows, seed):
        rng = np.random.default_rng(seed)
        X = pd.DataFrame(rng.normal(size=(rows, features)),
                         columns=[f"x{i}" for i in range(features)])
        return X, X.to_numpy() @ rng.normal(size=features) + rng.normal(scale=0.5, size=rows)

    save(Model(name).fit(*table(rows, 0)), f"{folder}/pkg", target="y")
    export_onnx(f"{folder}/pkg", f"{folder}/model.onnx")
    native = load(f"{folder}/pkg")
    onnx = OnnxModel(open(f"{folder}/model.onnx", "rb").read(), native.task_)
    X, _ = table(predict_rows, 1)
    one = X.iloc[:1]

    def latency(model):
        for _ in range(20):
            model.predict(one)
        calls = []
        for _ in range(repeats):
            started = time.perf_counter()
            model.predict(one)
            calls.append(time.perf_counter() - started)
        return statistics.median(calls)

    def once(model):
        started = time.perf_counter()
        values = model.predict(X)
        return time.perf_counter() - started, np.asarray(values, dtype=np.float64)

    native_many, expected = once(native)
    onnx_many, got = once(onnx)
    print(json.dumps({
        "native_one": latency(native), "onnx_one": latency(onnx),
        "native_many": native_many, "onnx_many": onnx_many,
        "difference": float(np.max(np.abs(got - expected) / np.maximum(1.0, np.abs(expected)))),
    }))
    """
)


def _predict(name: str, args: argparse.Namespace) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as folder:
        argv = [name, args.rows, args.features, args.repeats, args.predict_rows, folder]
        done = subprocess.run(
            [sys.executable, "-c", _PREDICT, *map(str, argv)],
            capture_output=True,
            text=True,
            check=False,
        )
    if done.returncode != 0:
        raise RuntimeError(done.stderr.strip().splitlines()[-1] if done.stderr else "failed")
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def _weights(hidden: int) -> dict[str, tuple[Any, Any]]:
    """Seeded (weight, bias) per layer, scaled so that activations stay near 1."""
    import numpy as np

    rng = np.random.default_rng(0)
    shapes = {
        "conv1": (FILTERS, CHANNELS, 3, 3),
        "fc1": (hidden, FLAT),
        "fc2": (CLASSES, hidden),
    }
    layers = {}
    for name, shape in shapes.items():
        fan_in = int(np.prod(shape[1:]))
        weight = rng.standard_normal(shape, dtype=np.float32) / np.float32(np.sqrt(fan_in))
        layers[name] = (weight, rng.standard_normal(shape[0], dtype=np.float32))
    return layers


_PROTOTXT = """name: "big"
layer {{ name: "data" type: "Input" top: "data"
  input_param {{ shape {{ dim: 1 dim: {channels} dim: {side} dim: {side} }} }} }}
layer {{ name: "conv1" type: "Convolution" bottom: "data" top: "conv1"
  convolution_param {{ num_output: {filters} kernel_size: 3 pad: 1 }} }}
layer {{ name: "relu1" type: "ReLU" bottom: "conv1" top: "conv1" }}
layer {{ name: "pool1" type: "Pooling" bottom: "conv1" top: "pool1"
  pooling_param {{ pool: MAX kernel_size: 2 stride: 2 }} }}
layer {{ name: "fc1" type: "InnerProduct" bottom: "pool1" top: "fc1"
  inner_product_param {{ num_output: {hidden} }} }}
layer {{ name: "relu2" type: "ReLU" bottom: "fc1" top: "fc1" }}
layer {{ name: "fc2" type: "InnerProduct" bottom: "fc1" top: "fc2"
  inner_product_param {{ num_output: {classes} }} }}
layer {{ name: "prob" type: "Softmax" bottom: "fc2" top: "prob" }}
"""


def _varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _delimited(number: int, payload: bytes) -> bytes:
    """A protobuf length-delimited field (a string, message or packed array)."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _write_caffe(folder: Path, layers: dict[str, tuple[Any, Any]]) -> tuple[Path, Path]:
    """``big.prototxt`` and ``big.caffemodel``, the weights as Caffe writes them.

    Written field by field, since caffe.proto packs ``BlobProto.data`` and ``BlobShape.dim``
    (modelyard's reading schema does not declare them packed, and protobuf reads both ways):
    NetParameter name (1), layer (100): name (1), type (2), blobs (7): shape (7) {dim (1)},
    data (5).
    """
    hidden = layers["fc1"][0].shape[0]
    prototxt = folder / "big.prototxt"
    prototxt.write_text(
        _PROTOTXT.format(
            channels=CHANNELS, side=SIDE, filters=FILTERS, hidden=hidden, classes=CLASSES
        )
    )
    types = {"conv1": "Convolution", "fc1": "InnerProduct", "fc2": "InnerProduct"}
    caffemodel = folder / "big.caffemodel"
    with caffemodel.open("wb") as out:
        out.write(_delimited(1, b"big"))
        for name, arrays in layers.items():
            blobs = (
                _delimited(7, _delimited(1, b"".join(map(_varint, array.shape))))
                + _delimited(5, array.astype("<f4").tobytes())
                for array in arrays
            )
            fields = _delimited(1, name.encode()) + _delimited(2, types[name].encode())
            out.write(_delimited(100, fields + b"".join(_delimited(7, blob) for blob in blobs)))
    return prototxt, caffemodel


def _write_mxnet(folder: Path, layers: dict[str, tuple[Any, Any]]) -> tuple[Path, Path]:
    """``big-symbol.json`` and ``big-0000.params``, as ``Module.save_checkpoint`` writes them."""
    nodes: list[dict[str, Any]] = []

    def add(op: str, name: str, inputs: tuple[int, ...] = (), **attrs: object) -> int:
        entry = {"op": op, "name": name, "attrs": {k: str(v) for k, v in attrs.items()}}
        nodes.append({**entry, "inputs": [[index, 0, 0] for index in inputs]})
        return len(nodes) - 1

    def with_weights(op: str, name: str, source: int, *names: str, **attrs: object) -> int:
        weights = tuple(add("null", f"{name}_{suffix}") for suffix in names)
        return add(op, name, (source, *weights), **attrs)

    hidden = layers["fc1"][0].shape[0]
    x = add("null", "data")
    x = with_weights(
        "Convolution", "conv1", x, "weight", "bias", kernel=(3, 3), pad=(1, 1), num_filter=FILTERS
    )
    x = add("Activation", "relu1", (x,), act_type="relu")
    x = add("Pooling", "pool1", (x,), kernel=(2, 2), stride=(2, 2), pool_type="max")
    x = with_weights("FullyConnected", "fc1", x, "weight", "bias", num_hidden=hidden)
    x = add("Activation", "relu2", (x,), act_type="relu")
    x = with_weights("FullyConnected", "fc2", x, "weight", "bias", num_hidden=CLASSES)
    x = with_weights("SoftmaxOutput", "softmax", x, "label")
    symbol = folder / "big-symbol.json"
    symbol.write_text(
        json.dumps(
            {
                "nodes": nodes,
                "arg_nodes": [i for i, node in enumerate(nodes) if node["op"] == "null"],
                "node_row_ptr": list(range(len(nodes) + 1)),
                "heads": [[x, 0, 0]],
                "attrs": {"mxnet_version": ["int", 10901]},
            },
            indent=2,
        )
    )
    arrays = {
        f"arg:{layer}_{part}": array
        for layer, pair in layers.items()
        for part, array in zip(("weight", "bias"), pair, strict=True)
    }
    params = folder / "big-0000.params"
    with params.open("wb") as out:
        out.write(struct.pack("<QQQ", 0x112, 0, len(arrays)))  # list magic, reserved, count
        for array in arrays.values():
            # V2 magic, dense storage, rank, shape, device (cpu 0), dtype flag 0 (float32)
            out.write(struct.pack(f"<Iii{array.ndim}q", 0xF993FAC9, 0, array.ndim, *array.shape))
            out.write(struct.pack("<iii", 1, 0, 0))
            out.write(array.astype("<f4").tobytes())
        out.write(struct.pack("<Q", len(arrays)))
        for name in arrays:
            out.write(struct.pack("<Q", len(name)) + name.encode())
    return symbol, params


def _import(kind: str, files: tuple[Path, Path], out: Path) -> tuple[float, str]:
    """Wall seconds of ``modelyard import KIND`` and the check it printed."""
    shape = f"1,{CHANNELS},{SIDE},{SIDE}"
    started = time.perf_counter()
    done = subprocess.run(
        [str(MODELYARD), "import", kind, *map(str, files), "--input-shape", shape, "--out", out],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "COLUMNS": "1000"},  # the check on one line
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"modelyard import {kind} failed: {done.stderr.strip()[-500:]}")
    checked = [line for line in done.stdout.splitlines() if line.startswith("checked")]
    return seconds, " ".join(checked[0].split()) if checked else ""


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.onnx", description=__doc__)
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--features", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=2_000)
    parser.add_argument("--predict-rows", type=int, default=100_000)
    parser.add_argument("--megabytes", type=float, default=100.0)
    args = parser.parse_args(argv)

    print(
        f"predict: regression packages fitted on {args.rows:,} rows x {args.features}, "
        "native vs onnxruntime (ratio = native / onnxruntime)"
    )
    many = f"{args.predict_rows:,} rows, one run"
    print(f"  {'model':<22} {'1 row, median per call':^36} {many:^34}  largest diff")
    for name in MODELS:
        r = _predict(name, args)
        one = f"{r['native_one'] * 1e6:7.0f} µs | {r['onnx_one'] * 1e6:7.0f} µs | "
        one += f"{r['native_one'] / r['onnx_one']:5.2f}x"
        lots = f"{r['native_many']:7.3f} s | {r['onnx_many']:7.3f} s | "
        lots += f"{r['native_many'] / r['onnx_many']:5.2f}x"
        print(f"  {name:<22} {one:^36} {lots:^34}  {r['difference']:.1g}", flush=True)

    hidden = max(1, round(args.megabytes * 1e6 / 4 / FLAT))
    layers = _weights(hidden)
    weight_mb = sum(array.nbytes for pair in layers.values() for array in pair) / 1e6
    print(
        f"import: a net of {weight_mb:.1f} MB of float32 weights (fc1 {FLAT:,} -> {hidden:,}), "
        f"input (1, {CHANNELS}, {SIDE}, {SIDE}); wall time of the CLI"
    )
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        for kind, write in (("caffe", _write_caffe), ("mxnet", _write_mxnet)):
            files = write(folder, layers)
            size = sum(path.stat().st_size for path in files) / 1e6
            seconds, check = _import(kind, files, folder / f"{kind}-pkg")
            package = sum(p.stat().st_size for p in (folder / f"{kind}-pkg").rglob("*"))
            print(
                f"  {kind:<6} {size:6.1f} MB in {seconds:6.1f} s "
                f"({size / seconds:5.1f} MB/s), package {package / 1e6:.1f} MB; {check}",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
