"""GGUF (llama.cpp) models: the header, every metadata value and tensor entry is checked, and
chat templates are searched for Jinja that reaches Python internals.

Loaders such as llama-cpp-python render ``tokenizer.chat_template`` with Jinja2; an unsandboxed
template that walks ``__class__``/``__globals__``/``__subclasses__`` runs arbitrary code.
"""

from __future__ import annotations

import re
import struct
from typing import ClassVar

from modelyard.scan import rules
from modelyard.scan.formats.base import Buffer, ScanContext, Stream
from modelyard.scan.report import Severity

_MAGIC = b"GGUF"
_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q",
            11: "<q", 12: "<d"}  # fmt: skip
_STRING, _ARRAY = 8, 9
# More entries than this is no real model; it bounds the work a hostile count can cause.
_MAX_ENTRIES = 1 << 20
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

    def count(self) -> int:
        value = self.unpack("<Q")
        assert isinstance(value, int)
        if value > _MAX_ENTRIES:
            raise _Truncated(f"a count of {value} at byte {self.offset - 8} is beyond any model")
        return value

    def string(self) -> str:
        length = self.unpack("<Q")
        assert isinstance(length, int)
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
            item_kind = self.unpack("<I")
            assert isinstance(item_kind, int)
            return [self.value(item_kind) for _ in range(self.count())]
        raise _Truncated(f"unknown value type {kind} at byte {self.offset - 4}")


class GgufReader:
    """GGUF version 2 and 3 files."""

    name: ClassVar[str] = "gguf"

    def sniff(self, head: bytes, stream: Stream) -> bool:
        return head[:4] == _MAGIC

    def scan(self, stream: Stream, ctx: ScanContext) -> None:
        cursor = _Cursor(stream.data)
        cursor.offset = 4
        try:
            version = cursor.unpack("<I")
            if version not in (2, 3):
                ctx.report(rules.MALFORMED, f"GGUF version {version} is not one modelyard reads")
                return
            tensors, entries = cursor.count(), cursor.count()
            for _ in range(entries):
                key = cursor.string()
                kind = cursor.unpack("<I")
                assert isinstance(kind, int)
                value = cursor.value(kind)
                if key.startswith("tokenizer.chat_template"):
                    _judge_template(key, value, ctx)
            for _ in range(tensors):
                _check_tensor(cursor)
        except _Truncated as error:
            ctx.report(rules.MALFORMED, f"GGUF metadata {error}")


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


def _check_tensor(cursor: _Cursor) -> None:
    name = cursor.string()
    dims = cursor.unpack("<I")
    assert isinstance(dims, int)
    if dims > 8:
        raise _Truncated(f"tensor {name!r} claims {dims} dimensions")
    for _ in range(dims):
        cursor.unpack("<Q")
    cursor.unpack("<I")
    offset = cursor.unpack("<Q")
    assert isinstance(offset, int)
    if offset > len(cursor.data):
        raise _Truncated(f"tensor {name!r} starts at byte {offset}, beyond the file")
