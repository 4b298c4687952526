"""GGUF (llama.cpp) models: the header, every metadata value and tensor entry is checked, and
chat templates are searched for Jinja that reaches Python internals.

Loaders such as llama-cpp-python render ``tokenizer.chat_template`` with Jinja2; an unsandboxed
template that walks ``__class__``/``__globals__``/``__subclasses__`` runs arbitrary code.
"""

from __future__ import annotations

import math
import re
import struct
from dataclasses import dataclass
from typing import ClassVar

from modelyard.scan import rules
from modelyard.scan.formats.base import Buffer, ScanContext, Stream
from modelyard.scan.formats.signatures import GGUF_MAGIC
from modelyard.scan.report import Severity

# GGUF value type -> struct format (8 is a string, 9 an array).
_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?"}
_SCALARS |= {10: "<Q", 11: "<q", 12: "<d"}
_STRING, _ARRAY = 8, 9
# More entries than this is no real model; it bounds the work a hostile count can cause.
_MAX_ENTRIES = 1 << 20
_MAX_DIMS = 4  # GGML_MAX_DIMS
_DEFAULT_ALIGNMENT = 32
# ggml tensor types: type id -> (elements per block, bytes per block).
GGML_TYPE_SIZES = {
    0: (1, 4),
    1: (1, 2),
    2: (32, 18),
    3: (32, 20),
    6: (32, 22),
    7: (32, 24),
    8: (32, 34),
    9: (32, 40),
    10: (256, 84),
    11: (256, 110),
    12: (256, 144),
    13: (256, 176),
    14: (256, 210),
    15: (256, 292),
    16: (256, 66),
    17: (256, 74),
    18: (256, 98),
    19: (256, 50),
    20: (32, 18),
    21: (256, 110),
    22: (256, 82),
    23: (256, 136),
    24: (1, 1),
    25: (1, 2),
    26: (1, 4),
    27: (1, 8),
    28: (1, 8),
    29: (256, 56),
    30: (1, 2),
    34: (256, 54),
    35: (256, 66),
    39: (32, 17),
    40: (64, 36),
    41: (128, 18),
}
_TEMPLATE_DANGER = re.compile(
    r"__(?:class|globals|subclasses|builtins|import|mro|base|bases|init|code|getattribute)__"
    r"|\b(?:os|sys|subprocess|builtins|importlib)\s*\.\s*\w"
    r"|\b(?:popen|system|eval|exec|__import__|import_module)\s*\(",
    re.IGNORECASE,
)

TEMPLATE_CODE = rules.register(
    "MY-GGF-001",
    Severity.UNSAFE,
    "Chat template reaches Python internals",
    """A Jinja chat template in the GGUF metadata refers to Python internals (__class__,
    __globals__, __subclasses__, os, eval, ...). Loaders that render chat templates without a
    sandbox (older llama-cpp-python, custom servers) run whatever code such a template reaches,
    as soon as the first prompt is formatted. Real chat templates only loop over messages and
    print their fields.""",
)

TENSOR_LAYOUT = rules.register(
    "MY-GGF-002",
    Severity.ERROR,
    "Inconsistent GGUF tensor layout",
    """A GGUF tensor entry does not describe the data: an unknown tensor type, a shape that does
    not fill whole quantization blocks, an offset that is not aligned, not where the previous
    tensor ends, or past the end of the file, or a name used twice. llama.cpp refuses such files;
    other readers may read something else than intended.""",
)


@dataclass(frozen=True)
class _Tensor:
    name: str
    shape: tuple[int, ...]
    kind: int
    offset: int


class _Truncated(Exception):
    pass


class _Cursor:
    def __init__(self, data: Buffer) -> None:
        self.data = data
        self.offset = 0

    def unpack(self, fmt: str) -> object:
        size = struct.calcsize(fmt)
        if self.offset + size > len(self.data):
            raise _Truncated(f"ends inside a value at byte {self.offset}")
        (value,) = struct.unpack_from(fmt, self.data, self.offset)
        self.offset += size
        return value

    def integer(self, fmt: str) -> int:
        value = self.unpack(fmt)
        assert isinstance(value, int)  # every integer format unpacks to int
        return value

    def count(self) -> int:
        value = self.integer("<Q")
        if value > _MAX_ENTRIES:
            raise _Truncated(f"a count of {value} at byte {self.offset - 8} is beyond any model")
        return value

    def string(self) -> str:
        length = self.integer("<Q")
        if self.offset + length > len(self.data):
            raise _Truncated(f"a string of {length} bytes at byte {self.offset} runs past the end")
        raw = bytes(self.data[self.offset : self.offset + length])
        self.offset += length
        return raw.decode("utf-8", "replace")

    def value(self, kind: int) -> object:
        if kind in _SCALARS:
            return self.unpack(_SCALARS[kind])
        if kind == _STRING:
            return self.string()
        if kind == _ARRAY:
            item_kind = self.integer("<I")
            return [self.value(item_kind) for _ in range(self.count())]
        raise _Truncated(f"unknown value type {kind} at byte {self.offset - 4}")


class GgufReader:
    """GGUF version 2 and 3 files."""

    name: ClassVar[str] = "gguf"

    def sniff(self, head: bytes, stream: Stream) -> bool:
        return head[:4] == GGUF_MAGIC

    def scan(self, stream: Stream, ctx: ScanContext) -> None:
        cursor = _Cursor(stream.data)
        cursor.offset = 4
        try:
            version = cursor.integer("<I")
            if version not in (2, 3):
                ctx.report(rules.MALFORMED, f"GGUF version {version} is not one modelyard reads")
                return
            count, entries = cursor.count(), cursor.count()
            alignment = _DEFAULT_ALIGNMENT
            for _ in range(entries):
                key = cursor.string()
                value = cursor.value(cursor.integer("<I"))
                if key.startswith("tokenizer.chat_template"):
                    _judge_template(key, value, ctx)
                elif key == "general.alignment":
                    alignment = _alignment(value)
            tensors = [_read_tensor(cursor) for _ in range(count)]
        except _Truncated as error:
            ctx.report(rules.MALFORMED, f"GGUF metadata {error}")
            return
        data_start = _align(cursor.offset, alignment)
        for problem, name in _layout_problems(tensors, alignment, len(stream.data) - data_start):
            ctx.report(TENSOR_LAYOUT, problem, subject=name)


def _judge_template(key: str, value: object, ctx: ScanContext) -> None:
    templates = value if isinstance(value, list) else [value]
    for template in templates:
        if not isinstance(template, str):
            continue
        match = _TEMPLATE_DANGER.search(template)
        if match:
            ctx.report(
                TEMPLATE_CODE,
                f"{key} refers to {match.group(0).strip()!r}",
                subject=key,
                detail=template[max(0, match.start() - 80) : match.end() + 80],
            )


def _alignment(value: object) -> int:
    if not isinstance(value, int) or value <= 0 or value & (value - 1):
        raise _Truncated(f"general.alignment {value!r} is not a power of two")
    return value


def _align(offset: int, alignment: int) -> int:
    return offset + (-offset % alignment)


def _read_tensor(cursor: _Cursor) -> _Tensor:
    name = cursor.string()
    dims = cursor.integer("<I")
    if dims > _MAX_DIMS:
        raise _Truncated(f"tensor {name!r} claims {dims} dimensions")
    shape = tuple(cursor.integer("<Q") for _ in range(dims))
    return _Tensor(name, shape, cursor.integer("<I"), cursor.integer("<Q"))


def _layout_problems(
    tensors: list[_Tensor], alignment: int, available: int
) -> list[tuple[str, str]]:
    """What is wrong with the tensor entries, checked in file order as llama.cpp does: each
    tensor starts where the previous one ends, padded to the alignment, inside the file."""
    problems: list[tuple[str, str]] = []
    names: set[str] = set()
    expected = 0
    for tensor in tensors:

        def problem(what: str, tensor: _Tensor = tensor) -> None:
            problems.append((f"tensor {tensor.name!r} {what}", tensor.name))

        if tensor.name in names:
            problem("occurs twice")
        names.add(tensor.name)
        if tensor.kind not in GGML_TYPE_SIZES:
            problem(f"has unknown tensor type {tensor.kind}")
            return problems  # its size is unknown, so later offsets cannot be checked
        block_elements, block_bytes = GGML_TYPE_SIZES[tensor.kind]
        elements = math.prod(tensor.shape)
        if elements % block_elements:
            problem(f"of shape {list(tensor.shape)} does not fill whole blocks of {block_elements}")
        size = elements // block_elements * block_bytes
        if tensor.offset % alignment:
            problem(f"starts at {tensor.offset}, not aligned")
        elif tensor.offset != expected:
            what = "overlaps the previous one" if tensor.offset < expected else "leaves a gap"
            problem(f"{what} (offset {tensor.offset}, expected {expected})")
        if tensor.offset + size > available:
            problem(f"({size} bytes at offset {tensor.offset}) runs past the end of the file")
        expected = _align(tensor.offset + size, alignment)
    return problems
