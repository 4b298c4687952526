"""MXNet: symbol graphs (written by hand, MXNet is not installed) and ``.params`` lists."""

from __future__ import annotations

import json
import struct

import numpy as np

from tests.scan.conftest import rule_ids


def _symbol(*extra_nodes):
    nodes = [
        {"op": "null", "name": "data", "inputs": []},
        {"op": "null", "name": "fc_weight", "inputs": []},
        {"op": "FullyConnected", "name": "fc", "attrs": {"num_hidden": "4"},
         "inputs": [[0, 0, 0], [1, 0, 0]]},
        *extra_nodes,
    ]  # fmt: skip
    heads = [[len(nodes) - 1, 0, 0]]
    return {"nodes": nodes, "arg_nodes": [0, 1], "heads": heads, "attrs": {"mxnet": ["int", 10901]}}


def _params(arrays: dict[str, np.ndarray]) -> bytes:
    """The layout mx.nd.save writes: list magic, arrays (NDArray v2, dense, CPU), names."""
    out = struct.pack("<QQQ", 0x112, 0, len(arrays))
    for array in arrays.values():
        out += struct.pack("<Iii", 0xF993FAC9, 0, array.ndim)
        out += struct.pack(f"<{array.ndim}q", *array.shape) + struct.pack("<iii", 1, 0, 0)
        out += array.astype(np.float32).tobytes()
    out += struct.pack("<Q", len(arrays))
    for name in arrays:
        out += struct.pack("<Q", len(name)) + name.encode()
    return out


def test_plain_symbol_and_params_are_safe(scan_bytes):
    result = scan_bytes(json.dumps(_symbol()).encode(), "model-symbol.json")
    assert (result.format, result.verdict, result.findings) == ("mxnet-symbol", "safe", [])
    params = _params({"arg:fc_weight": np.ones((4, 3)), "arg:fc_bias": np.zeros(4)})
    result = scan_bytes(params, "model-0000.params")
    assert (result.format, result.verdict, result.findings) == ("mxnet-params", "safe", [])


def test_custom_operator_is_suspicious(scan_bytes):
    custom = {"op": "Custom", "name": "evil", "attrs": {"op_type": "my_op"}, "inputs": [[2, 0, 0]]}
    result = scan_bytes(json.dumps(_symbol(custom)).encode(), "model-symbol.json")
    assert result.verdict == "suspicious" and rule_ids(result) == {"MY-MXN-001"}
    assert result.findings[0].subject == "my_op"


def test_params_with_hidden_or_missing_bytes_are_errors(scan_bytes):
    params = _params({"arg:w": np.ones((2, 2))})
    assert scan_bytes(params + b"payload", "m.params").verdict == "error"
    assert scan_bytes(params[:40], "m.params").verdict == "error"
