"""Flax/JAX MessagePack checkpoints: state dicts as ``flax.serialization.to_bytes`` writes them
are safe; arrays that do not fill their shape and broken documents are errors."""

from __future__ import annotations

from pathlib import Path

import msgpack
import numpy as np
import pytest

from tests.scan.conftest import rule_ids

# Written by Flax itself: scripts/flax_fixtures.py.
FIXTURES = Path(__file__).parent / "fixtures" / "flax"


def _array(array: np.ndarray, shape: tuple[int, ...] | None = None, code: int = 1) -> object:
    """An array as Flax packs it: extension type 1 holding (shape, dtype name, bytes)."""
    header = (shape or array.shape, array.dtype.name, array.tobytes("C"))
    return msgpack.ExtType(code, msgpack.packb(header, use_bin_type=True))


def _state(**extra: object) -> bytes:
    params = {
        "Dense_0": {"kernel": _array(np.ones((4, 3), np.float32)), "bias": _array(np.zeros(3))},
        "step": _array(np.asarray(np.int32(7)), code=3),
        "scale": msgpack.packb(1.5),
        **extra,
    }
    return msgpack.packb({"params": params}, use_bin_type=True)


def test_flax_state_dicts_are_safe(scan_bytes):
    result = scan_bytes(_state(), "flax_model.msgpack")
    assert (result.format, result.verdict, result.findings) == ("msgpack", "safe", [])


def test_checkpoints_written_by_flax_are_safe(scan_bytes):
    paths = sorted(FIXTURES.glob("*.msgpack"))
    assert [path.name for path in paths] == ["mlp.msgpack", "state.msgpack"]
    for path in paths:
        result = scan_bytes(path.read_bytes(), path.name)
        assert (result.format, result.verdict, result.findings) == ("msgpack", "safe", [])


@pytest.mark.parametrize(
    ("leaf", "message"),
    [
        (_array(np.ones(3, np.float32), shape=(4,)), "holds 12 bytes, not 16"),
        (_array(np.ones(3, np.float32), shape=(-1,)), "has shape [-1]"),
        (msgpack.ExtType(1, msgpack.packb(((2,), "object", b"\0" * 16))), "unknown dtype"),
        (msgpack.ExtType(1, msgpack.packb([1, 2])), "is not (shape, dtype, data)"),
    ],
)
def test_inconsistent_arrays_are_errors(scan_bytes, leaf, message):
    result = scan_bytes(_state(bad=leaf), "flax_model.msgpack")
    assert result.verdict == "error" and rule_ids(result) == {"MY-SCN-002"}
    assert message in result.findings[0].message


def test_truncated_and_padded_documents_are_errors(scan_bytes):
    data = _state()
    for broken in (data[:-5], data + b"\xc0"):
        result = scan_bytes(broken, "flax_model.msgpack")
        assert result.verdict == "error" and rule_ids(result) == {"MY-SCN-002"}


def test_deep_nesting_is_an_error_not_a_crash(scan_bytes):
    result = scan_bytes(b"\x81\xa1a" + b"\x91" * 10_000 + b"\xc0", "deep.msgpack")
    assert result.verdict == "error" and "nested more than" in result.findings[0].message


def test_extensions_nested_in_arrays_count_toward_the_depth(scan_bytes):
    leaf = msgpack.packb(None)
    for _ in range(200):
        leaf = msgpack.packb(msgpack.ExtType(1, leaf))
    result = scan_bytes(msgpack.packb({"a": msgpack.ExtType(1, leaf)}), "deep.msgpack")
    assert result.verdict == "error" and rule_ids(result) == {"MY-SCN-002"}


def test_ext8_values_are_read(scan_bytes):
    result = scan_bytes(_state(blob=msgpack.ExtType(9, b"x" * 40)), "flax_model.msgpack")
    assert result.verdict == "safe"


def test_raw_tensor_data_that_starts_like_a_map_is_not_msgpack(scan_bytes):
    data = b"\x82\xa5" + np.arange(64, dtype=np.float32).tobytes()
    assert scan_bytes(data, "model.onnx.data").format == "unknown"
