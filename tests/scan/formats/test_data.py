"""safetensors and Parquet: real files are safe, inconsistent ones are errors."""

from __future__ import annotations

import json
import struct

import numpy as np
import pandas as pd
import torch
from safetensors.numpy import save_file as save_numpy
from safetensors.torch import save_file as save_torch

from modelyard.scan import scan
from tests.scan.conftest import rule_ids


def test_real_safetensors_and_parquet_are_safe(tmp_path):
    save_torch({"weight": torch.randn(4, 3), "bias": torch.zeros(3)}, tmp_path / "t.safetensors")
    save_numpy({"embedding": np.ones((5, 2), dtype=np.float16)}, tmp_path / "n.safetensors")
    pd.DataFrame({"a": [1, 2], "b": ["x", "y"]}).to_parquet(tmp_path / "table.parquet")
    report = scan(tmp_path)
    assert {(r.format, str(r.verdict)) for r in report.files} == {
        ("safetensors", "safe"),
        ("parquet", "safe"),
    }


def test_inconsistent_offsets_are_errors(scan_bytes):
    header = {"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
              "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}  # fmt: skip
    raw = json.dumps(header).encode()
    result = scan_bytes(struct.pack("<Q", len(raw)) + raw + b"\0" * 12)
    assert result.verdict == "error" and "MY-STN-001" in rule_ids(result)
    wrong_size = {"a": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}
    raw = json.dumps(wrong_size).encode()
    assert scan_bytes(struct.pack("<Q", len(raw)) + raw + b"\0" * 8).verdict == "error"
