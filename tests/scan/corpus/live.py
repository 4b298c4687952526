"""Load corpus samples with their real loaders in a child process and report what ran."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.scan.corpus.sample import Sample

# Runs in the child: loads each file, records whether it raised and whether the marker appeared.
_CHILD = r"""
import json, os, pickle, sys, time
from pathlib import Path

os.environ["KERAS_BACKEND"] = "torch"
jobs, marker = json.loads(sys.argv[1]), Path(sys.argv[2])

def load(path, loader):
    if loader in ("pickle", "pickle-twice"):
        with open(path, "rb") as handle:
            pickle.load(handle)
            if loader == "pickle-twice":
                pickle.load(handle)
    elif loader == "joblib":
        import joblib; joblib.load(path)
    elif loader == "torch":
        import torch; torch.load(path, weights_only=False)
    elif loader == "numpy":
        import numpy; numpy.load(path, allow_pickle=True)
    elif loader == "numpy-npz":
        import numpy
        with numpy.load(path, allow_pickle=True) as archive:
            [archive[name] for name in archive.files]
    elif loader == "pandas":
        import pandas; pandas.read_pickle(path)
    elif loader == "dill":
        import dill
        with open(path, "rb") as handle:
            dill.load(handle)
    elif loader == "keras":
        import keras; keras.saving.load_model(path)
    elif loader == "json":
        json.loads(Path(path).read_text())
    elif loader == "xgboost":
        import xgboost; xgboost.Booster().load_model(path)
    elif loader == "flax-msgpack":
        # flax.serialization.msgpack_restore: arrays are extension types 1 (and 3 for scalars)
        import msgpack, numpy
        def hook(code, data):
            if code in (1, 3):
                shape, dtype, buffer = msgpack.unpackb(data, raw=True)
                dtype = dtype.decode()
                dtype = "uint16" if dtype == "bfloat16" else dtype  # jnp.bfloat16 is 2 bytes too
                return numpy.frombuffer(buffer, dtype=dtype).reshape(shape)
            if code == 2:
                return complex(*msgpack.unpackb(data))
            return msgpack.ExtType(code, data)
        msgpack.unpackb(Path(path).read_bytes(), ext_hook=hook, raw=False)
    elif loader == "nemo":
        # NeMo's restore_from: untar into a temporary folder, read the configuration, then
        # torch.load the checkpoint (as NeMo did before PyTorch defaulted to weights_only).
        import tarfile, tempfile, torch, yaml
        with tempfile.TemporaryDirectory() as folder:
            with tarfile.open(path) as archive:
                archive.extractall(folder, filter="data")
            yaml.safe_load(Path(folder, "model_config.yaml").read_text())
            torch.load(Path(folder, "model_weights.ckpt"), weights_only=False)
    elif loader == "onnx":
        import onnx; onnx.load(path)
    else:
        raise ValueError(loader)

results = {}
for path, loader in jobs:
    marker.unlink(missing_ok=True)
    error = None
    try:
        load(path, loader)
    except BaseException as caught:  # the payload ran or not; a failure after it is expected
        error = f"{type(caught).__name__}: {caught}"[:200]
    deadline = time.monotonic() + 2  # a started process may touch the marker a moment later
    while not marker.exists() and time.monotonic() < deadline and error is None:
        time.sleep(0.05)
    results[path] = {"ran": marker.exists(), "error": error}
    marker.unlink(missing_ok=True)
print(json.dumps(results))
"""


def load_all(samples: list[Sample], marker: Path) -> dict[str, dict[str, object]]:
    """``{path: {"ran": bool, "error": str | None}}`` for every sample, loaded by its loader."""
    jobs = [(str(sample.path), sample.loader) for sample in samples]
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, json.dumps(jobs), str(marker)],
        capture_output=True,
        text=True,
        timeout=900,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    last = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
    if done.returncode != 0 or not last.startswith("{"):
        raise RuntimeError(f"the loader process failed: {done.stderr[-2000:]}")
    return json.loads(last)
