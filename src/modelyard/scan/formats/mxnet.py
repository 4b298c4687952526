"""MXNet models: the ``-symbol.json`` graph and the ``.params`` NDArray list.

The graph is data, except for ``Custom`` operators: MXNet runs them by calling the Python class
registered under their ``op_type`` in the loading process. ``.params`` holds only numbers; its
structure is checked so that anything else hiding behind the name is not called safe.
"""

from __future__ import annotations

import json
import struct
from typing import Any, ClassVar

from modelyard.scan import rules
from modelyard.scan.formats.base import Buffer, ScanContext, Stream
from modelyard.scan.formats.signatures import MXNET_PARAMS_MAGIC
from modelyard.scan.options import ScanOptions
from modelyard.scan.report import Severity

_ARRAY_MAGICS = {0xF993FAC9: "<q", 0xF993FACA: "<q"}  # NDArray v2 and v3: int64 dimensions
_DTYPE_SIZES = {0: 4, 1: 8, 2: 2, 3: 1, 4: 4, 5: 1, 6: 8, 7: 1, 8: 2, 9: 2, 10: 4, 11: 8, 12: 2}
_MAX_ARRAYS = 1 << 20

CUSTOM_OPERATOR = rules.register(
    "MY-MXN-001",
    Severity.SUSPICIOUS,
    "MXNet custom operator",
    """The symbol graph uses a Custom operator. MXNet runs it by calling the Python class that
    the loading process registered under its op_type, so the model only works together with code
    that ships separately and runs with your permissions. Review that code before running the
    model.""",
)


def _is_symbol(data: Any) -> bool:
    return isinstance(data, dict) and isinstance(data.get("nodes"), list) and "heads" in data


class MxnetSymbolReader:
    """MXNet symbol graphs (JSON with ``nodes`` and ``heads``)."""

    name: ClassVar[str] = "mxnet-symbol"

    def sniff(self, head: bytes, stream: Stream) -> bool:
        if head.lstrip()[:1] != b"{" or b'"nodes"' not in bytes(stream.data[:4096]):
            return False
        if len(stream.data) > ScanOptions().max_text_bytes:  # sniff has no options: the default
            return True  # too large to parse here: scan() reports the limit
        try:
            return _is_symbol(json.loads(bytes(stream.data)))
        except (ValueError, UnicodeDecodeError):
            return False

    def scan(self, stream: Stream, ctx: ScanContext) -> None:
        raw = ctx.whole("MXNet symbol graph")
        if raw is None:
            return
        for node in json.loads(raw)["nodes"]:
            if not isinstance(node, dict) or node.get("op") != "Custom":
                continue
            attrs = node.get("attrs") or node.get("attr") or node.get("param") or {}
            op_type = str(attrs.get("op_type", "")) if isinstance(attrs, dict) else ""
            ctx.report(
                CUSTOM_OPERATOR,
                f"node {node.get('name')!r} runs the custom operator {op_type!r}",
                subject=op_type,
            )


class _Truncated(Exception):
    pass


def _unpack(data: Buffer, offset: int, fmt: str) -> tuple[int, int]:
    size = struct.calcsize(fmt)
    if offset + size > len(data):
        raise _Truncated(f"the data ends at byte {offset}, inside a header")
    (value,) = struct.unpack_from(fmt, data, offset)
    return value, offset + size


class MxnetParamsReader:
    """MXNet ``.params`` files: a list of dense NDArrays and their names."""

    name: ClassVar[str] = "mxnet-params"

    def sniff(self, head: bytes, stream: Stream) -> bool:
        return head.startswith(MXNET_PARAMS_MAGIC)

    def scan(self, stream: Stream, ctx: ScanContext) -> None:
        data = stream.data
        try:
            count, offset = _unpack(data, 16, "<Q")
            if count > _MAX_ARRAYS:
                raise _Truncated(f"{count} arrays is beyond any model")
            for index in range(count):
                offset = _array(data, offset, index)
            names, offset = _unpack(data, offset, "<Q")
            if names not in (0, count):
                raise _Truncated(f"{names} names for {count} arrays")
            for _ in range(names):
                length, offset = _unpack(data, offset, "<Q")
                offset += length
            if offset != len(data):
                raise _Truncated(
                    f"{len(data) - offset} bytes after the last name belong to nothing"
                )
        except _Truncated as error:
            ctx.report(rules.MALFORMED, f"MXNet parameters: {error}")


def _array(data: Buffer, offset: int, index: int) -> int:
    magic, offset = _unpack(data, offset, "<I")
    if magic not in _ARRAY_MAGICS:
        raise _Truncated(f"array {index} has no NDArray marker")
    storage, offset = _unpack(data, offset, "<i")
    if storage != 0:
        raise _Truncated(
            f"array {index} uses sparse storage {storage}, which modelyard does not read"
        )
    ndim, offset = _unpack(data, offset, "<i")
    if ndim <= 0:
        return offset
    if ndim > 32:
        raise _Truncated(f"array {index} claims {ndim} dimensions")
    elements = 1
    for _ in range(ndim):
        extent, offset = _unpack(data, offset, _ARRAY_MAGICS[magic])
        if extent < 0:
            raise _Truncated(f"array {index} has a negative dimension")
        elements *= extent
    _device, offset = _unpack(data, offset, "<q")
    dtype, offset = _unpack(data, offset, "<i")
    if dtype not in _DTYPE_SIZES:
        raise _Truncated(f"array {index} has unknown type {dtype}")
    offset += elements * _DTYPE_SIZES[dtype]
    if offset > len(data):
        raise _Truncated(f"array {index} runs past the end of the data")
    return offset
