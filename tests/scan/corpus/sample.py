"""One file of the evaluation corpus."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Sample:
    """A model file, whether it attacks, and how the real world loads it.

    ``loader`` is one of: pickle, pickle-twice, joblib, torch, numpy, numpy-npz, pandas, dill,
    keras, json, xgboost, flax-msgpack, nemo, onnx.
    """

    path: Path
    malicious: bool
    family: str
    technique: str
    loader: str

    @property
    def id(self) -> str:
        return self.path.name
