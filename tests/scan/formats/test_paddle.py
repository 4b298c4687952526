"""PaddlePaddle: what Paddle writes (scripts/paddle_fixtures.py) is safe; file and Python
operators in a program, pickle payloads in a state dict and broken tensors are flagged."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest

from modelyard.scan import scan
from tests.scan.conftest import rule_ids

FIXTURES = Path(__file__).parent / "fixtures" / "paddle"


class _Payload:
    def __reduce__(self) -> tuple[object, ...]:
        return os.system, ("true",)


def test_what_paddle_writes_is_safe():
    formats = {
        Path(r.path).name: (r.format, str(r.verdict), r.findings) for r in scan(FIXTURES).files
    }
    assert formats == {
        "inference.pdiparams": ("paddle-params", "safe", []),
        "inference.pdiparams.info": ("pickle", "safe", []),
        "inference.pdmodel": ("paddle-program", "safe", []),
        "model.pdparams": ("pickle", "safe", []),
    }


def test_a_payload_in_a_state_dict_is_unsafe(scan_bytes):
    state = {"linear.weight": np.ones((2, 2), np.float32), "hook": _Payload()}
    result = scan_bytes(pickle.dumps(state, protocol=4), "model.pdparams")
    assert result.verdict == "unsafe" and "MY-PKL-001" in rule_ids(result)


def test_file_operators_are_unsafe(scan_bytes):
    data = (FIXTURES / "inference.pdmodel").read_bytes()
    assert data.count(b"\x04relu") == 1
    result = scan_bytes(data.replace(b"\x04relu", b"\x04save"), "inference.pdmodel")
    assert result.verdict == "unsafe" and rule_ids(result) == {"MY-PDL-001"}


def _message(number: int, *parts: bytes) -> bytes:
    """A short length-delimited protobuf field."""
    payload = b"".join(parts)
    return bytes([number << 3 | 2, len(payload)]) + payload


def test_py_func_is_unsafe(scan_bytes):
    variable = _message(3, _message(1, b"x"))
    op = _message(4, _message(1, _message(1, b"X"), _message(2, b"x")), _message(3, b"py_func"))
    result = scan_bytes(_message(1, b"\x08\x00", variable, op), "model.pdmodel")
    assert (result.format, result.verdict) == ("paddle-program", "unsafe")
    assert rule_ids(result) == {"MY-PDL-002"}


def test_an_undeclared_variable_is_an_error(scan_bytes):
    data = (FIXTURES / "inference.pdmodel").read_bytes()
    # Rename a variable where it is declared only (its first occurrence is the declaration).
    name = b"\x12\x05image"
    assert name in data
    result = scan_bytes(data.replace(name, b"\x12\x05imagf", 1), "inference.pdmodel")
    assert result.verdict == "error" and "undeclared variable" in result.findings[0].message


@pytest.mark.parametrize("cut", [30, 2000, -1])
def test_truncated_parameters_are_errors(scan_bytes, cut):
    data = (FIXTURES / "inference.pdiparams").read_bytes()
    result = scan_bytes(data[:cut], "inference.pdiparams")
    assert result.verdict == "error" and rule_ids(result) == {"MY-SCN-002"}


def test_a_tensor_of_unknown_type_is_an_error(scan_bytes):
    data = bytearray((FIXTURES / "inference.pdiparams").read_bytes())
    assert data[20:22] == b"\x08\x05"  # the first TensorDesc: float32
    data[21] = 0x7F
    result = scan_bytes(bytes(data), "inference.pdiparams")
    assert result.verdict == "error" and "of type 127" in result.findings[0].message


def test_a_truncated_program_is_an_error(scan_bytes):
    data = (FIXTURES / "inference.pdmodel").read_bytes()
    for cut in (10, 3000):
        result = scan_bytes(data[:cut], "inference.pdmodel")
        assert (result.format, result.verdict) == ("paddle-program", "error")


def test_raw_tensor_data_that_starts_with_zeros_is_not_paddle(scan_bytes):
    data = np.array([0, 0, 0, 0, 0, 8, 1, 2], dtype=np.int32).tobytes()
    assert scan_bytes(data, "weights.bin").format == "unknown"
