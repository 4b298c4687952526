"""ONNX models, read from the protobuf wire format without the ``onnx`` package.

An ONNX graph only computes, but a model can point its tensors at external files (which a
runtime then reads, wherever they are) and can use operators from custom domains, which need a
native library registered in the runtime.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import PurePosixPath, PureWindowsPath
from typing import ClassVar

from modelyard.scan import rules
from modelyard.scan.formats import protobuf
from modelyard.scan.formats.base import Buffer, ScanContext, Stream
from modelyard.scan.report import Severity

# ModelProto: 1 ir_version, 7 graph, 8 opset_import (1 domain), 25 functions (FunctionProto:
# 7 node, 10 domain). GraphProto: 1 node, 5 initializer, 15 sparse_initializer (1 values,
# 2 indices). NodeProto: 4 op_type, 7 domain, 5 attribute (AttributeProto: 5 t, 6 g, 10 tensors,
# 11 graphs). TensorProto: 1 dims, 2 data_type, 8 name, 9 raw_data, 13 external_data
# (1 key, 2 value), 14 data_location (1 = external).
_MODEL_FIELDS = frozenset({1, 2, 3, 4, 5, 6, 7, 8, 14, 20, 21, 25})
# The empty domain is ONNX's default one.
_STANDARD_DOMAINS = frozenset(
    [
        "",
        *"""
        ai.onnx ai.onnx.ml ai.onnx.training ai.onnx.preview.training com.microsoft
        com.microsoft.nchwc com.microsoft.experimental org.pytorch.aten
        """.split(),
    ]
)
# Bytes per element by TensorProto.DataType (strings have no fixed size).
_DTYPE_SIZES = {
    1: 4,
    2: 1,
    3: 1,
    4: 2,
    5: 2,
    6: 4,
    7: 8,
    9: 1,
    10: 2,
    11: 8,
    12: 4,
    13: 8,
    14: 8,
    15: 16,
    16: 2,
    17: 1,
    18: 1,
    19: 1,
    20: 1,
}
_EXTERNAL = 1
_MAX_ELEMENTS = 1 << 40

EXTERNAL_DATA_ESCAPE = rules.register(
    "MY-ONX-001",
    Severity.UNSAFE,
    "ONNX external data outside the model folder",
    """A tensor's external data location is an absolute path, climbs out with '..', or is a
    symbolic link leading out of the model's folder. The runtime reads that file into the model
    when it loads, which leaks files of the host (keys, /etc/passwd) into the model's outputs
    (CVE-2024-27318). Real models keep external data next to the .onnx file.""",
)
CUSTOM_DOMAIN = rules.register(
    "MY-ONX-002",
    Severity.SUSPICIOUS,
    "ONNX operator from a custom domain",
    """The graph uses an operator domain that is neither standard ONNX nor ONNX Runtime's own,
    and the model does not define it as a local function. Running it requires registering a custom
    operator library (native code) with the runtime; make sure that library comes from a source you
    trust.""",
)
INCONSISTENT_TENSOR = rules.register(
    "MY-ONX-003",
    Severity.ERROR,
    "Inconsistent ONNX tensor",
    """A tensor's stored bytes do not match its data type and shape, or its shape is impossibly
    large. Runtimes reject or misread such tensors; the model cannot be trusted to be what it
    claims.""",
)
EXTERNAL_DATA_MISSING = rules.register(
    "MY-ONX-004",
    Severity.ERROR,
    "ONNX external data file missing",
    """A tensor keeps its data in an external file that is not in the model's folder (or is not a
    regular file). Runtimes fail to load such a model, and the data that would be read could not
    be checked. Copy the data file next to the model, keeping the relative path the model names
    (for example weights/model.onnx.data).""",
)


def _looks_like_model(data: Buffer) -> bool:
    has_version = has_graph = False
    try:
        for number, value in protobuf.fields(data):
            if number not in _MODEL_FIELDS:
                return False
            if number == 1:
                has_version = isinstance(value, int) and 1 <= value <= 100
            elif number == 7:
                has_graph = isinstance(value, memoryview)
    except protobuf.ProtobufError:
        return False
    return has_version and has_graph


@dataclass
class _Walk:
    """What one pass over the model found."""

    domains: dict[str, str] = field(default_factory=dict)  # domain -> an operator using it
    local_domains: set[str] = field(default_factory=set)
    missing: set[str] = field(default_factory=set)  # external data files reported missing


class OnnxReader:
    """ONNX ``ModelProto`` files, and any ``.onnx`` file no earlier reader claimed (so that a
    damaged one is an error rather than text)."""

    name: ClassVar[str] = "onnx"

    def sniff(self, head: bytes, stream: Stream) -> bool:
        return stream.name.endswith(".onnx") or _looks_like_model(stream.data)

    def scan(self, stream: Stream, ctx: ScanContext) -> None:
        walk = _Walk()
        try:
            if not _looks_like_model(stream.data):
                list(protobuf.fields(stream.data))
                ctx.report(rules.MALFORMED, "not an ONNX model: no IR version or graph")
            for number, value in protobuf.fields(stream.data):
                if number == 7 and isinstance(value, memoryview):
                    _graph(value, stream, ctx, walk)
                elif number == 25 and isinstance(value, memoryview):
                    walk.local_domains.add(protobuf.first_text(value, 10))
                    for node in protobuf.messages(value, 7):
                        _node(node, stream, ctx, walk)
        except protobuf.ProtobufError as error:
            ctx.report(rules.MALFORMED, f"ONNX protobuf: {error}")
        for domain, op in sorted(walk.domains.items()):
            if domain not in _STANDARD_DOMAINS and domain not in walk.local_domains:
                ctx.report(
                    CUSTOM_DOMAIN, f"operator {op!r} comes from domain {domain!r}", subject=domain
                )


def _graph(graph: Buffer, stream: Stream, ctx: ScanContext, walk: _Walk) -> None:
    for number, value in protobuf.fields(graph):
        if not isinstance(value, memoryview):
            continue
        if number == 1:
            _node(value, stream, ctx, walk)
        elif number == 5:
            _tensor(value, stream, ctx, walk)
        elif number == 15:
            for part in (1, 2):
                for tensor in protobuf.messages(value, part):
                    _tensor(tensor, stream, ctx, walk)


def _node(node: Buffer, stream: Stream, ctx: ScanContext, walk: _Walk) -> None:
    walk.domains.setdefault(protobuf.first_text(node, 7), protobuf.first_text(node, 4))
    for attribute in protobuf.messages(node, 5):
        for number, value in protobuf.fields(attribute):
            if number in (5, 10) and isinstance(value, memoryview):
                _tensor(value, stream, ctx, walk)
            elif number in (6, 11) and isinstance(value, memoryview):
                _graph(value, stream, ctx, walk)


def _tensor(tensor: Buffer, stream: Stream, ctx: ScanContext, walk: _Walk) -> None:
    name = protobuf.first_text(tensor, 8)
    dims = protobuf.integers(tensor, 1)
    data_type = next(iter(protobuf.integers(tensor, 2)[-1:]), 0)
    elements = 1
    for extent in dims:
        if extent < 0 or elements * max(extent, 1) > _MAX_ELEMENTS:
            ctx.report(INCONSISTENT_TENSOR, f"tensor {name!r} has shape {dims}", subject=name)
            return
        elements *= extent
    if protobuf.integers(tensor, 14)[-1:] == [_EXTERNAL]:
        entries = {
            protobuf.first_text(entry, 1): protobuf.first_text(entry, 2)
            for entry in protobuf.messages(tensor, 13)
        }
        if "location" in entries:
            _external(name, entries, _byte_size(elements, data_type), stream, ctx, walk)
        else:
            ctx.report(rules.MALFORMED, f"external tensor {name!r} has no location", subject=name)
        return
    raw = list(protobuf.messages(tensor, 9))
    size = _byte_size(elements, data_type)
    if raw and size is not None and len(raw[-1]) != size:
        ctx.report(
            INCONSISTENT_TENSOR,
            f"tensor {name!r}: {len(raw[-1])} bytes do not hold {elements} elements of type "
            f"{data_type}",
            subject=name,
        )


def _byte_size(elements: int, data_type: int) -> int | None:
    """Bytes that ``elements`` values of ``data_type`` take (``None`` for strings or unknown)."""
    size = _DTYPE_SIZES.get(data_type)
    return None if size is None else elements * size


def _external(
    name: str,
    entries: dict[str, str],
    size: int | None,
    stream: Stream,
    ctx: ScanContext,
    walk: _Walk,
) -> None:
    location = entries["location"]
    pure = PureWindowsPath(location) if "\\" in location else PurePosixPath(location)
    escapes = pure.is_absolute() or bool(pure.drive) or ".." in pure.parts
    if not escapes and stream.disk_path is not None:
        folder = stream.disk_path.resolve().parent
        target = os.path.realpath(folder / location)
        escapes = os.path.commonpath([folder, target]) != str(folder)
    if escapes:
        ctx.report(
            EXTERNAL_DATA_ESCAPE,
            f"tensor {name!r} reads its data from {location!r}",
            subject=location,
        )
        return
    # A hub blob (stored under its hash, its name given apart) has no neighbours to look at.
    home = stream.disk_path.parent if stream.disk_path and not stream.file_name else None
    if home is not None and not (home / location).is_file():
        if location not in walk.missing:
            walk.missing.add(location)
            ctx.report(
                EXTERNAL_DATA_MISSING,
                f"tensor {name!r} reads its data from {location!r}, which is not in the "
                f"model's folder {str(home)!r}",
                subject=location,
            )
        return
    for problem in _external_span_problems(entries, size, stream):
        ctx.report(INCONSISTENT_TENSOR, f"tensor {name!r}: {problem}", subject=name)
    ctx.claim_data_file(location)


def _external_span_problems(entries: dict[str, str], size: int | None, stream: Stream) -> list[str]:
    """Whether ``offset``/``length`` describe the tensor and lie inside the data file (when the
    file is there to look at: a model scanned on its own may not have it next to it)."""
    numbers: dict[str, int] = {}
    for key in ("offset", "length"):
        if key in entries:
            if not entries[key].isdigit():
                return [f"external data {key} {entries[key]!r} is not a byte count"]
            numbers[key] = int(entries[key])
    offset, length = numbers.get("offset", 0), numbers.get("length")
    problems = []
    if length is not None and size is not None and length != size:
        problems.append(f"external data length {length} does not hold its {size} bytes")
    if stream.disk_path is None:
        return problems
    try:
        available = (stream.disk_path.parent / entries["location"]).stat().st_size
    except OSError:
        return problems
    needed = length if length is not None else size
    if needed is not None and offset + needed > available:
        problems.append(
            f"external data ({needed} bytes at offset {offset}) runs past the end of "
            f"{entries['location']!r} ({available} bytes)"
        )
    return problems
