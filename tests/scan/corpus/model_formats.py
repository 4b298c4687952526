"""Corpus samples of the model formats that are neither pickles nor their containers: XGBoost
UBJSON, Flax MessagePack, NeMo archives, PaddlePaddle state dicts and ONNX external data."""

from __future__ import annotations

import os
import pickle
import shutil
import tarfile
from collections.abc import Callable
from pathlib import Path

from tests.samples import save_onnx_with_external_data

# Written by the real libraries, which do not install here (scripts/*_fixtures.py).
FIXTURES = Path(__file__).parents[1] / "formats" / "fixtures"


class _Reduce:
    def __init__(self, *call: object) -> None:
        self.call = call

    def __reduce__(self) -> tuple[object, ...]:
        return self.call[0], self.call[1:]


def nemo_archive(path: Path, weights: object, config: str) -> None:
    """A ``.nemo`` file as NeMo's SaveRestoreConnector writes it: its folder tarred as ``.``."""
    import torch

    folder = path.with_suffix(".contents")
    folder.mkdir()
    (folder / "model_config.yaml").write_text(config)
    torch.save(weights, folder / "model_weights.ckpt")
    with tarfile.open(path, "w:") as archive:
        archive.add(folder, arcname=".")
    shutil.rmtree(folder)


_NEMO_CONFIG = """\
target: nemo.collections.asr.models.ctc_models.EncDecCTCModel
encoder: {_target_: nemo.collections.asr.modules.ConvASREncoder, feat_in: 64}
optim: {name: adamw, lr: 0.001}
"""


def format_attacks(dest: Path, touch: str, add: Callable[..., None]) -> None:
    """Payloads inside the model formats: each runs ``touch`` when its loader reads it."""
    import numpy as np
    import torch

    nemo_archive(
        dest / "payload.nemo",
        {"encoder.weight": torch.ones(2, 2), "hook": _Reduce(os.system, touch)},
        _NEMO_CONFIG,
    )
    add(
        "payload.nemo",
        (dest / "payload.nemo").read_bytes(),
        "nemo",
        "os.system in model_weights.ckpt of a .nemo archive",
        "nemo",
    )
    state = {"linear_0.w_0": np.ones((4, 3), np.float32), "hook": _Reduce(os.system, touch)}
    add(
        "payload.pdparams",
        pickle.dumps(state, protocol=4),
        "paddle",
        "os.system in a paddle.save state dict",
        "pickle",
    )


def format_benign(dest: Path, add: Callable[[str, str, str, str], None]) -> None:
    """Real models in the formats above, each as its library writes it."""
    import torch
    import xgboost
    from sklearn.datasets import load_iris

    x, y = load_iris(return_X_y=True)
    xgboost.XGBClassifier(n_estimators=5).fit(x, y).save_model(dest / "xgboost.ubj")
    add("xgboost.ubj", "xgboost", "XGBClassifier UBJSON (save_model default)", "xgboost")
    (dest / "xgboost_appended.ubj").write_bytes((dest / "xgboost.ubj").read_bytes() + b"\n\0\0\0")
    add(
        "xgboost_appended.ubj",
        "xgboost",
        "UBJSON with bytes after it, which XGBoost ignores",
        "xgboost",
    )
    for name in ("mlp.msgpack", "state.msgpack"):
        shutil.copy(FIXTURES / "flax" / name, dest / f"flax_{name}")
        add(f"flax_{name}", "flax", f"flax.serialization.to_bytes ({name})", "flax-msgpack")
    shutil.copy(FIXTURES / "paddle" / "model.pdparams", dest / "paddle.pdparams")
    add("paddle.pdparams", "paddle", "paddle.save state dict", "pickle")
    network = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
    nemo_archive(dest / "model.nemo", network.state_dict(), _NEMO_CONFIG)
    add("model.nemo", "nemo", ".nemo archive (config, checkpoint)", "nemo")

    (dest / "onnx_external" / "weights").mkdir(parents=True)
    save_onnx_with_external_data(dest / "onnx_external" / "model.onnx", "weights/model.onnx.data")
    add("onnx_external/model.onnx", "onnx", "external data in a subfolder", "onnx")
