"""PaddlePaddle inference models: the ``.pdmodel`` program (a ``ProgramDesc`` protobuf) and the
``.pdiparams`` tensors beside it, read without Paddle. (``.pdparams`` and ``.pdopt`` files are
pickles, which the pickle reader judges.)

A program is data, but running it runs its operators, and a few of them act on the world:
``save``/``load`` read and write files at the paths in their attributes, the distributed
operators talk to other hosts, and ``py_func`` calls a Python function of the loading process.
"""

from __future__ import annotations

import math
import re
from typing import ClassVar

from modelyard.scan import rules
from modelyard.scan.formats import protobuf
from modelyard.scan.formats.base import Buffer, ScanContext, Stream
from modelyard.scan.formats.cursor import Cursor
from modelyard.scan.report import Severity

# ProgramDesc: 1 BlockDesc, 4 Version, 5 OpVersionMap. BlockDesc: 1 idx, 2 parent_idx, 3 VarDesc
# (1 name), 4 OpDesc, 5 forward_block_idx. OpDesc: 1 inputs and 2 outputs (Var: 1 parameter,
# 2 arguments), 3 type, 4 attrs, 5 is_target. TensorDesc: 1 data_type, 2 dims.
_PROGRAM_FIELDS = frozenset({1, 2, 4, 5})
_BLOCK_INTEGERS = frozenset({1, 2, 5})
_BLOCK_MESSAGES = frozenset({3, 4})
_OP_TYPE = re.compile(r"[a-z][a-z0-9_]*")
_WORLD_OPS = frozenset(
    """
    save save_combine load load_combine sparse_tensor_load checkpoint_notify recv_save
    send recv send_barrier fetch_barrier listen_and_serv
    """.split()
)
_PYTHON_OPS = frozenset({"py_func"})
# Bytes per element by VarType.Type.
_DTYPE_SIZES = {0: 1, 1: 2, 2: 4, 3: 8, 4: 2, 5: 4, 6: 8, 19: 8, 20: 1, 21: 1, 22: 2, 23: 8}
_DTYPE_SIZES |= {24: 16, 32: 1, 33: 1}
_MAX_LOD_LEVELS = 16

WORLD_OP = rules.register(
    "MY-PDL-001",
    Severity.UNSAFE,
    "Paddle program reads or writes files or the network",
    """The program contains an operator that saves or loads files at the paths in its
    attributes (save, load and their combined forms) or talks to other hosts (send, recv,
    listen_and_serv). Running the model lets it overwrite or read files of the host or reach the
    network. Inference programs do not need these operators.""",
)
PYTHON_OP = rules.register(
    "MY-PDL-002",
    Severity.UNSAFE,
    "Paddle program calls Python",
    """The program contains a py_func operator, which calls a Python function of the loading
    process when it runs. No plain model needs it; it lets a model run code in combination with
    code it ships.""",
)


class PaddleError(ValueError):
    """The bytes break the layout of a Paddle file."""


def _blocks(data: Buffer) -> list[memoryview] | None:
    """The blocks of a ProgramDesc, or ``None`` if the bytes are not one."""
    try:
        blocks = []
        for number, value in protobuf.fields(data):
            if number not in _PROGRAM_FIELDS:
                return None
            if number == 1 and isinstance(value, memoryview):
                if not _is_block(value):
                    return None
                if not all(_OP_TYPE.fullmatch(_op_type(op)) for op in protobuf.messages(value, 4)):
                    return None
                blocks.append(value)
    except protobuf.ProtobufError:
        return None
    return blocks or None


def _is_block(block: Buffer) -> bool:
    """A BlockDesc: integer indices (its own always), then variables and operators."""
    numbers = set()
    for number, value in protobuf.fields(block):
        expected = int if number in _BLOCK_INTEGERS else memoryview
        if number not in _BLOCK_INTEGERS | _BLOCK_MESSAGES or not isinstance(value, expected):
            return False
        numbers.add(number)
    return 1 in numbers


def _op_type(op: Buffer) -> str:
    return protobuf.first_text(op, 3)


class PaddleProgramReader:
    """Paddle ``ProgramDesc`` programs (``.pdmodel``, ``__model__``), and any ``.pdmodel`` file
    no earlier reader claimed (so that a damaged one is an error rather than text)."""

    name: ClassVar[str] = "paddle-program"

    def sniff(self, head: bytes, stream: Stream) -> bool:
        return stream.name.endswith(".pdmodel") or _blocks(stream.data) is not None

    def scan(self, stream: Stream, ctx: ScanContext) -> None:
        blocks = _blocks(stream.data)
        if blocks is None:
            try:
                list(protobuf.fields(stream.data))
            except protobuf.ProtobufError as error:
                ctx.report(rules.MALFORMED, f"Paddle program: {error}")
                return
            ctx.report(rules.MALFORMED, "not a Paddle program: no blocks of operators")
            return
        names = {
            protobuf.first_text(var, 1) for block in blocks for var in protobuf.messages(block, 3)
        }
        for index, block in enumerate(blocks):
            ctx.file.deadline.check()
            for op in protobuf.messages(block, 4):
                kind = _op_type(op)
                if kind in _WORLD_OPS:
                    ctx.report(WORLD_OP, f"block {index}: operator {kind!r}", subject=kind)
                elif kind in _PYTHON_OPS:
                    ctx.report(PYTHON_OP, f"block {index}: operator {kind!r}", subject=kind)
                for slot in (*protobuf.messages(op, 1), *protobuf.messages(op, 2)):
                    for argument in protobuf.messages(slot, 2):
                        if protobuf.text(argument) not in names:
                            ctx.report(
                                rules.MALFORMED,
                                f"block {index}: operator {kind!r} uses the undeclared variable "
                                f"{protobuf.text(argument)!r}",
                            )
                            return


def _tensor(cursor: Cursor) -> None:
    """One tensor of ``save_combine``: LoD levels, then a TensorDesc and the raw elements."""
    if cursor.unpack("<I") != 0:
        raise PaddleError(f"tensor at byte {cursor.offset - 4} has an unknown version")
    levels = cursor.unpack("<Q")
    if levels > _MAX_LOD_LEVELS:
        raise PaddleError(f"tensor at byte {cursor.offset - 8} claims {levels} LoD levels")
    for _ in range(levels):
        cursor.take(cursor.unpack("<Q"))
    if cursor.unpack("<I") != 0:
        raise PaddleError(f"tensor at byte {cursor.offset - 4} has an unknown version")
    desc = cursor.take(cursor.unpack("<i"))
    try:
        kinds = protobuf.integers(desc, 1)
        dims = protobuf.integers(desc, 2)
    except protobuf.ProtobufError as error:
        raise PaddleError(f"tensor description: {error}") from None
    kind = kinds[-1] if kinds else -1
    if kind not in _DTYPE_SIZES or any(extent < 0 for extent in dims):
        raise PaddleError(f"tensor of type {kind} and shape {dims} at byte {cursor.offset}")
    cursor.take(math.prod(dims) * _DTYPE_SIZES[kind])


class PaddleParamsReader:
    """Paddle ``.pdiparams``: the tensors of an inference model, one after another (and any
    ``.pdiparams`` file no earlier reader claimed)."""

    name: ClassVar[str] = "paddle-params"

    def sniff(self, head: bytes, stream: Stream) -> bool:
        # The first tensor's header (version 0, no LoD, version 0, a TensorDesc), and the whole
        # first tensor: raw tensor data that starts with zeros must stay unclaimed. Any other
        # .pdiparams file is taken too, so that a damaged one is an error, not unknown.
        if stream.name.endswith(".pdiparams"):
            return True
        if not (len(head) > 20 and head[:16] == bytes(16) and head[20] == 0x08):
            return False
        try:
            _tensor(Cursor(stream.data, PaddleError))
        except PaddleError:
            return False
        return True

    def scan(self, stream: Stream, ctx: ScanContext) -> None:
        cursor = Cursor(stream.data, PaddleError)
        try:
            while cursor.rest():
                ctx.file.deadline.check()
                _tensor(cursor)
        except PaddleError as error:
            ctx.report(rules.MALFORMED, f"Paddle parameters: {error}")
