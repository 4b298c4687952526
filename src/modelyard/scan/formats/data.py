"""Pure data formats that no loader executes: Parquet tables and safetensors weights.

Their structure is still checked, so that a file merely named like them (or damaged) is never
called safe: anything that does not hold together is left to the other readers.
"""

from __future__ import annotations

import json
import struct
from typing import ClassVar

from modelyard.scan import rules
from modelyard.scan.formats.base import ScanContext, Stream
from modelyard.scan.formats.signatures import PARQUET_MAGIC
from modelyard.scan.report import Severity

# safetensors: an 8-byte little-endian header length, then a JSON header starting with "{".
_SAFETENSORS_MAX_HEADER = 100 * 1024 * 1024
_DTYPE_SIZES = {
    "BOOL": 1,
    "U8": 1,
    "I8": 1,
    "F8_E5M2": 1,
    "F8_E4M3": 1,
    "I16": 2,
    "U16": 2,
    "F16": 2,
    "BF16": 2,
    "I32": 4,
    "U32": 4,
    "F32": 4,
    "I64": 8,
    "U64": 8,
    "F64": 8,
}

SAFETENSORS_LAYOUT = rules.register(
    "MY-STN-001",
    Severity.ERROR,
    "Inconsistent safetensors layout",
    """The safetensors header does not describe the data: offsets outside the data, tensors that
    overlap or leave gaps where other content could hide, or a byte size that does not match the
    dtype and shape. Loaders may reject the file or read something else than intended.""",
)


class ParquetReader:
    """Apache Parquet files (Spark models keep their parameters in them)."""

    name: ClassVar[str] = "parquet"

    def sniff(self, head: bytes, stream: Stream) -> bool:
        data = stream.data
        return head[:4] == PARQUET_MAGIC and bytes(data[len(data) - 4 :]) == PARQUET_MAGIC

    def scan(self, stream: Stream, ctx: ScanContext) -> None:
        """Parquet holds typed columns; reading it never runs code."""


def _safetensors_header(stream: Stream) -> dict[str, object] | None:
    data = stream.data
    if len(data) < 10:
        return None
    (length,) = struct.unpack_from("<Q", data, 0)
    if length > min(_SAFETENSORS_MAX_HEADER, len(data) - 8) or bytes(data[8:9]) != b"{":
        return None
    try:
        header = json.loads(bytes(data[8 : 8 + length]))
    except (ValueError, UnicodeDecodeError):
        return None
    return header if isinstance(header, dict) else None


class SafetensorsReader:
    """safetensors weights: a JSON header of tensor offsets, then raw numbers."""

    name: ClassVar[str] = "safetensors"

    def sniff(self, head: bytes, stream: Stream) -> bool:
        return _safetensors_header(stream) is not None

    def scan(self, stream: Stream, ctx: ScanContext) -> None:
        header = _safetensors_header(stream)
        assert header is not None  # sniff said so
        (length,) = struct.unpack_from("<Q", stream.data, 0)
        available = len(stream.data) - 8 - length
        spans = []
        for name, entry in header.items():
            if name == "__metadata__":
                continue
            problem = _check_tensor(entry, available)
            if problem:
                ctx.report(SAFETENSORS_LAYOUT, f"tensor {name!r}: {problem}", subject=name)
                continue
            start, end = entry["data_offsets"]  # type: ignore[index]
            spans.append((start, end, name))
        position = 0
        for start, end, name in sorted(spans):
            if start != position:
                what = "overlaps the previous one" if start < position else "leaves a gap"
                ctx.report(SAFETENSORS_LAYOUT, f"tensor {name!r} {what}", subject=name)
            position = max(position, end)
        if position != available:
            ctx.report(
                SAFETENSORS_LAYOUT,
                f"{available - position} bytes after the last tensor belong to no tensor",
            )


def _check_tensor(entry: object, available: int) -> str | None:
    if not isinstance(entry, dict):
        return "its header entry is not an object"
    dtype, shape, offsets = entry.get("dtype"), entry.get("shape"), entry.get("data_offsets")
    if dtype not in _DTYPE_SIZES:
        return f"unknown dtype {dtype!r}"
    if not (isinstance(shape, list) and all(isinstance(n, int) and n >= 0 for n in shape)):
        return "its shape is not a list of sizes"
    if not (
        isinstance(offsets, list) and len(offsets) == 2 and all(isinstance(n, int) for n in offsets)
    ):
        return "its data offsets are not two numbers"
    start, end = offsets
    if not 0 <= start <= end <= available:
        return "its data lies outside the file"
    count = 1
    for extent in shape:
        count *= extent
    if count * _DTYPE_SIZES[dtype] != end - start:
        return f"{end - start} bytes do not hold a {dtype} tensor of shape {shape}"
    return None
