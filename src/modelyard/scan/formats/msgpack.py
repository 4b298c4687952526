"""MessagePack, the format of Flax/JAX checkpoints (``flax.serialization.to_bytes``).

MessagePack holds only plain values. Flax stores each array as extension type 1 (itself
MessagePack: shape, dtype name, raw bytes), a NumPy scalar as type 3 in the same layout and a
complex number as type 2; loading turns them into arrays and runs nothing. The whole structure
is walked and every array checked against its shape, so a truncated or inconsistent file is an
error rather than safe.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

from modelyard.scan import rules
from modelyard.scan.formats.base import Buffer, ScanContext, Stream
from modelyard.scan.formats.cursor import Cursor
from modelyard.scan.options import Deadline

_MAX_DEPTH = 64
_FLAX_ARRAY, _FLAX_SCALAR = 1, 3
# Bytes per element of the dtype names NumPy (and bfloat16 from ml_dtypes) writes.
_DTYPE_SIZES = {"bool": 1, "int8": 1, "uint8": 1, "int16": 2, "uint16": 2, "float16": 2}
_DTYPE_SIZES |= {"bfloat16": 2, "int32": 4, "uint32": 4, "float32": 4, "int64": 8, "uint64": 8}
_DTYPE_SIZES |= {"float64": 8, "complex64": 8, "complex128": 16}
_DTYPE_SIZES |= {"float8_e4m3fn": 1, "float8_e5m2": 1, "int4": 1, "uint4": 1}

# MessagePack integer markers and their big-endian layouts.
_INTEGERS = {0xCC: ">B", 0xCD: ">H", 0xCE: ">I", 0xCF: ">Q", 0xD0: ">b", 0xD1: ">h", 0xD2: ">i"}
_INTEGERS |= {0xD3: ">q"}


class MsgpackError(ValueError):
    """The bytes are not well-formed MessagePack, or a Flax array is inconsistent."""


@dataclass
class _Value:
    """What the walk keeps of a value: the scalars a Flax array header is made of."""

    number: int | None = None
    text: str | None = None
    raw: memoryview | None = None
    items: list[_Value] | None = None


class _Walker(Cursor):
    """Walks values; checks Flax arrays only when given the deadline of a scan."""

    def __init__(self, data: Buffer, deadline: Deadline | None) -> None:
        super().__init__(data, MsgpackError)
        self.deadline = deadline

    def value(self, depth: int, keep: bool = False) -> _Value:
        """Read one value; ``keep`` keeps array items (a Flax array header), else only scalars."""
        if depth > _MAX_DEPTH:
            raise MsgpackError(f"containers nested more than {_MAX_DEPTH} deep")
        start = self.offset
        byte = self.take(1)[0]
        if byte <= 0x7F or byte >= 0xE0:
            return _Value(number=byte if byte <= 0x7F else byte - 0x100)
        if 0x80 <= byte <= 0x8F or byte in (0xDE, 0xDF):
            size = byte & 0x0F if byte <= 0x8F else self.unpack(">H" if byte == 0xDE else ">I")
            if self.deadline:
                self.deadline.check()
            for _ in range(2 * size):
                self.value(depth + 1)
            return _Value()
        if 0x90 <= byte <= 0x9F or byte in (0xDC, 0xDD):
            size = byte & 0x0F if byte <= 0x9F else self.unpack(">H" if byte == 0xDC else ">I")
            if keep:
                return _Value(items=[self.value(depth + 1, keep) for _ in range(size)])
            for _ in range(size):
                self.value(depth + 1)
            return _Value()
        if 0xA0 <= byte <= 0xBF or 0xD9 <= byte <= 0xDB:
            size = byte & 0x1F if byte <= 0xBF else self.unpack(">" + "BHI"[byte - 0xD9])
            return _Value(text=bytes(self.take(size)).decode("utf-8", "replace"))
        if 0xC4 <= byte <= 0xC6:
            return _Value(raw=self.take(self.unpack(">" + "BHI"[byte - 0xC4])))
        if 0xC7 <= byte <= 0xC9 or 0xD4 <= byte <= 0xD8:
            size = self.unpack(">" + "BHI"[byte - 0xC7]) if byte <= 0xC9 else 1 << (byte - 0xD4)
            code = self.unpack(">b")
            self.extension(code, self.take(size), start, depth)
            return _Value()
        if byte in (0xC0, 0xC2, 0xC3):
            return _Value()
        if byte in (0xCA, 0xCB):
            self.take(4 if byte == 0xCA else 8)
            return _Value()
        if byte not in _INTEGERS:
            raise MsgpackError(f"byte {byte:#04x} at {start} starts no value")
        return _Value(number=self.unpack(_INTEGERS[byte]))

    def extension(self, code: int, payload: memoryview, start: int, depth: int) -> None:
        if code not in (_FLAX_ARRAY, _FLAX_SCALAR) or self.deadline is None:
            return  # Flax hands other extension types back as opaque bytes
        inner = _Walker(payload, self.deadline)
        header = inner.value(depth + 1, keep=True)
        if inner.rest():
            raise MsgpackError(f"the array at byte {start} has bytes after its header")
        _check_array(header, start)


def _check_array(header: _Value, start: int) -> None:
    """A Flax array is ``(shape, dtype name, raw bytes)`` whose bytes fill the shape exactly."""
    items = header.items or []
    if len(items) != 3 or items[0].items is None:
        raise MsgpackError(f"the array at byte {start} is not (shape, dtype, data)")
    shape = [item.number for item in items[0].items]
    dtype, raw = items[1].text or "", items[2].raw
    if any(extent is None or extent < 0 for extent in shape) or raw is None:
        raise MsgpackError(f"the array at byte {start} has shape {shape} and no data")
    if dtype not in _DTYPE_SIZES:
        raise MsgpackError(f"the array at byte {start} has unknown dtype {dtype!r}")
    size = math.prod(extent or 0 for extent in shape) * _DTYPE_SIZES[dtype]
    if size != len(raw):
        raise MsgpackError(
            f"the {dtype} array of shape {shape} at byte {start} holds {len(raw)} bytes, not {size}"
        )


class MsgpackReader:
    """MessagePack documents whose top level is a map with string keys (Flax state dicts), and
    any ``.msgpack`` file no earlier reader claimed."""

    name: ClassVar[str] = "msgpack"

    def sniff(self, head: bytes, stream: Stream) -> bool:
        # A map (fixmap, map16, map32) whose first key is a string (fixstr, str8/16/32), and
        # which is one document to the end: two bytes alone match raw tensor data too often.
        # Any other .msgpack file is taken too, so that a damaged one is an error, not unknown.
        if stream.name.endswith(".msgpack"):
            return True
        if not head:
            return False
        first = head[0]
        key_at = 1 if first <= 0x8F else 3 if first == 0xDE else 5
        if not (0x81 <= first <= 0x8F or first in (0xDE, 0xDF)) or len(head) <= key_at:
            return False
        if not (0xA1 <= head[key_at] <= 0xBF or 0xD9 <= head[key_at] <= 0xDB):
            return False
        return _walk(stream.data, None) is None

    def scan(self, stream: Stream, ctx: ScanContext) -> None:
        problem = _walk(stream.data, ctx.file.deadline)
        if problem:
            ctx.report(rules.MALFORMED, f"MessagePack: {problem}")


def _walk(data: Buffer, deadline: Deadline | None) -> str | None:
    """What breaks the document, or ``None``; Flax arrays are checked when ``deadline`` is set."""
    walker = _Walker(data, deadline)
    first = walker.data[0] if walker.rest() else 0
    if not (0x80 <= first <= 0x8F or first in (0xDE, 0xDF)):
        return "the document is not a map of names to values"
    try:
        walker.value(1)
        if walker.rest():
            raise MsgpackError(f"{walker.rest()} bytes follow the document")
    except MsgpackError as error:
        return str(error)
    return None
