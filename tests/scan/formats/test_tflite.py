"""TensorFlow Lite: models the TFLite converter wrote (scripts/tflite_fixtures.py) are safe
with builtin operators, suspicious with custom or Flex operators and unsafe with Flex operators
that touch files; offsets that leave the file are errors."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from modelyard.scan import scan
from modelyard.scan.formats.flatbuffer import Table
from tests.scan.conftest import rule_ids

FIXTURES = Path(__file__).parent / "fixtures" / "tflite"


def test_converted_models_get_their_verdicts():
    verdicts = {
        Path(result.path).name: (result.format, str(result.verdict), rule_ids(result))
        for result in scan(FIXTURES).files
    }
    assert verdicts == {
        "dense.tflite": ("tflite", "safe", set()),
        "custom.tflite": ("tflite", "suspicious", {"MY-TFL-002"}),
        "flex.tflite": ("tflite", "suspicious", {"MY-TFL-001"}),
        "flex_read_file.tflite": ("tflite", "unsafe", {"MY-TF-002"}),
    }


@pytest.mark.parametrize("cut", [8, 100, 700])
def test_truncated_models_are_errors(scan_bytes, cut):
    data = (FIXTURES / "dense.tflite").read_bytes()
    result = scan_bytes(data[:cut], "dense.tflite")
    assert result.verdict == "error" and rule_ids(result) == {"MY-SCN-002"}


def test_a_root_offset_outside_the_file_is_an_error(scan_bytes):
    data = (FIXTURES / "dense.tflite").read_bytes()
    result = scan_bytes(struct.pack("<I", 1 << 30) + data[4:], "dense.tflite")
    assert result.verdict == "error" and "outside" in result.findings[0].message


def _vector(data: bytearray, table: Table, field: int) -> int:
    """Where the items of a table's vector field start."""
    where = table.field(field)
    assert where is not None
    return where + struct.unpack_from("<I", data, where)[0] + 4


def test_an_operator_input_out_of_range_is_an_error(scan_bytes):
    data = bytearray((FIXTURES / "dense.tflite").read_bytes())
    operator = Table.root(data).tables(2)[0].tables(3)[0]
    struct.pack_into("<i", data, _vector(data, operator, 1), 999)
    result = scan_bytes(bytes(data), "dense.tflite")
    assert result.verdict == "error" and "tensor index 999" in result.findings[0].message


def test_a_buffer_past_the_end_is_an_error(scan_bytes):
    data = bytearray((FIXTURES / "dense.tflite").read_bytes())
    buffer = next(b for b in Table.root(data).tables(4) if b.length(0))
    struct.pack_into("<I", data, _vector(data, buffer, 0) - 4, 1 << 20)
    result = scan_bytes(bytes(data), "dense.tflite")
    assert result.verdict == "error" and rule_ids(result) == {"MY-SCN-002"}
