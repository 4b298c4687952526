"""TensorFlow Lite models: a FlatBuffer (identifier ``TFL3``) walked table by table, without
TensorFlow.

A TFLite graph only computes with builtin operators. Two kinds of operator need more: a custom
operator runs native code that the application registers, and a Flex operator runs any
TensorFlow operation through the Select TF ops delegate, including those that read and write
files or call Python.
"""

from __future__ import annotations

from typing import ClassVar

from modelyard.scan import rules
from modelyard.scan.formats.base import ScanContext, Stream
from modelyard.scan.formats.flatbuffer import FlatbufferError, Table
from modelyard.scan.formats.savedmodel import FILE_OP, FILE_OPS, PYTHON_OP, PYTHON_OPS
from modelyard.scan.formats.signatures import TFLITE_IDENTIFIER
from modelyard.scan.report import Severity

_SCHEMA_VERSION = 3
_CUSTOM = 32  # BuiltinOperator.CUSTOM
_FLEX_PREFIX = "Flex"
# Custom operators that TFLite's own BuiltinOpResolver registers: no application code.
_STANDARD_CUSTOM = frozenset({"TFLite_Detection_PostProcess", "Mfcc", "AudioSpectrogram"})
# Model: 1 operator_codes, 2 subgraphs, 4 buffers, 6 metadata. OperatorCode: 0
# deprecated_builtin_code, 1 custom_code, 3 builtin_code. SubGraph: 0 tensors, 1 inputs,
# 2 outputs, 3 operators. Tensor: 2 buffer, 3 name. Operator: 0 opcode_index, 1 inputs,
# 2 outputs, 8 intermediates. Buffer: 0 data, 1 offset, 2 size. Metadata: 0 name, 1 buffer.

FLEX_OPERATOR = rules.register(
    "MY-TFL-001",
    Severity.SUSPICIOUS,
    "TFLite Flex operator",
    """The model runs a TensorFlow operation through the Flex (Select TF ops) delegate. The
    delegate can run nearly any TensorFlow operation, so the model needs the full TensorFlow
    kernel library and is no longer limited to TFLite's builtin math. Operations that read or
    write files or call Python are reported as unsafe on their own (MY-TF-001, MY-TF-002).""",
)
CUSTOM_OPERATOR = rules.register(
    "MY-TFL-002",
    Severity.SUSPICIOUS,
    "TFLite custom operator",
    """The model uses a custom operator, which runs native code that the application registers
    with the interpreter under that name. The model only works together with that code; review
    where it comes from before running the model.""",
)


class TfliteReader:
    """TensorFlow Lite FlatBuffers (schema version 3)."""

    name: ClassVar[str] = "tflite"

    def sniff(self, head: bytes, stream: Stream) -> bool:
        return head[4:8] == TFLITE_IDENTIFIER

    def scan(self, stream: Stream, ctx: ScanContext) -> None:
        try:
            model = Table.root(stream.data)
            version = model.scalar(0, "<I")
            if version != _SCHEMA_VERSION:
                ctx.report(rules.MALFORMED, f"TFLite schema version {version}, not 3")
                return
            codes = [_operator_name(code, ctx) for code in model.tables(1)]
            buffers = model.tables(4)
            for index, buffer in enumerate(buffers):
                _check_buffer(buffer, index, len(stream.data))
            for metadata in model.tables(6):
                _in_range("metadata buffer", metadata.scalar(1, "<I"), len(buffers))
            for index, subgraph in enumerate(model.tables(2)):
                ctx.file.deadline.check()
                _check_subgraph(subgraph, index, len(codes), len(buffers))
        except FlatbufferError as error:
            ctx.report(rules.MALFORMED, f"TFLite model: {error}")


def _operator_name(code: Table, ctx: ScanContext) -> str:
    """Report custom and Flex operators; returns the operator's name or builtin number."""
    builtin = max(code.scalar(0, "<b"), code.scalar(3, "<i"))
    if builtin != _CUSTOM:
        return str(builtin)
    name = code.string(1)
    if name.startswith(_FLEX_PREFIX):
        op = name.removeprefix(_FLEX_PREFIX)
        if op in PYTHON_OPS:
            ctx.report(PYTHON_OP, f"Flex operator {name!r} calls Python", subject=op)
        elif op in FILE_OPS:
            ctx.report(FILE_OP, f"Flex operator {name!r} touches files", subject=op)
        else:
            ctx.report(FLEX_OPERATOR, f"Flex operator {name!r} runs TensorFlow's {op}", subject=op)
    elif name not in _STANDARD_CUSTOM:
        ctx.report(CUSTOM_OPERATOR, f"custom operator {name!r}", subject=name)
    return name


def _check_buffer(buffer: Table, index: int, file_size: int) -> None:
    buffer.length(0)  # the inline data lies inside the file
    offset, size = buffer.scalar(1, "<Q"), buffer.scalar(2, "<Q")
    # Offsets of 0 and 1 mean "no data" in models larger than 2 GiB, which store it after the
    # FlatBuffer, counted from the file's start.
    if offset > 1 and offset + size > file_size:
        raise FlatbufferError(
            f"buffer {index} ({size} bytes at offset {offset}) runs past the end of the file"
        )


def _check_subgraph(subgraph: Table, index: int, codes: int, buffers: int) -> None:
    tensors = subgraph.tables(0)
    for tensor in tensors:
        _in_range(
            f"subgraph {index}: tensor {tensor.string(3)!r} buffer", tensor.scalar(2, "<I"), buffers
        )
    for field, what in ((1, "input"), (2, "output")):
        for position in subgraph.integers(field):
            _in_range(f"subgraph {index}: {what} tensor", position, len(tensors))
    for position, operator in enumerate(subgraph.tables(3)):
        where = f"subgraph {index}: operator {position}"
        _in_range(f"{where} code", operator.scalar(0, "<I"), codes)
        for field in (1, 2, 8):
            for position in operator.integers(field):
                if position != -1:  # an omitted optional input
                    _in_range(f"{where} tensor", position, len(tensors))


def _in_range(what: str, index: int, count: int) -> None:
    if not 0 <= index < count:
        raise FlatbufferError(f"{what} index {index} is not below {count}")
