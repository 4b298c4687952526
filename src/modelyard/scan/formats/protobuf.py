"""A minimal reader of the protocol buffers wire format, for TensorFlow and ONNX files.

It knows no schemas: a message is a sequence of (field number, value) pairs, where a value is an
integer (varint and fixed-width fields) or the bytes of a length-delimited field (a string, a
nested message or a packed array), which the caller decodes as it expects.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

from modelyard.scan.formats.base import Buffer

_VARINT, _FIXED64, _LENGTH, _FIXED32 = 0, 1, 2, 5
# The protobuf runtime refuses messages nested deeper than 100 levels.
MAX_DEPTH = 100


class ProtobufError(ValueError):
    """The bytes are not a well-formed protocol buffer message."""


Field = tuple[int, int | memoryview]


def _varint(data: memoryview, offset: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if offset >= len(data):
            raise ProtobufError(f"a number runs past the end at byte {offset}")
        if shift > 63:
            raise ProtobufError(f"a number longer than 10 bytes at byte {offset}")
        byte = data[offset]
        offset += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, offset


def fields(data: Buffer) -> Iterator[Field]:
    """The fields of one message, in order; raises ProtobufError at the first malformed byte."""
    view = memoryview(data)
    offset = 0
    while offset < len(view):
        key, offset = _varint(view, offset)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise ProtobufError(f"field number 0 at byte {offset}")
        if wire == _VARINT:
            value, offset = _varint(view, offset)
            yield number, value
        elif wire in (_FIXED64, _FIXED32):
            size = 8 if wire == _FIXED64 else 4
            if offset + size > len(view):
                raise ProtobufError(f"a fixed-width field runs past the end at byte {offset}")
            yield number, int.from_bytes(view[offset : offset + size], "little")
            offset += size
        elif wire == _LENGTH:
            length, offset = _varint(view, offset)
            if offset + length > len(view):
                raise ProtobufError(f"a field of {length} bytes runs past the end at byte {offset}")
            yield number, view[offset : offset + length]
            offset += length
        else:
            # Groups (wire types 3 and 4) are deprecated and used by none of the formats read here.
            raise ProtobufError(f"unsupported wire type {wire} at byte {offset}")


def messages(data: Buffer, number: int) -> Iterator[memoryview]:
    """The length-delimited values of field ``number``."""
    for found, value in fields(data):
        if found == number and isinstance(value, memoryview):
            yield value


def text(value: int | memoryview) -> str:
    """A string field's value (undecodable bytes replaced)."""
    if isinstance(value, int):
        raise ProtobufError("expected a string, found a number")
    return bytes(value).decode("utf-8", "replace")


def first_text(data: Buffer, number: int) -> str:
    """The last value of string field ``number`` (as protobuf merges it), or ``""``."""
    found = ""
    for value in messages(data, number):
        found = text(value)
    return found


def integers(data: Buffer, number: int) -> list[int]:
    """The values of a repeated integer field, packed or not (signed 64-bit)."""
    result: list[int] = []
    for found, value in fields(data):
        if found != number:
            continue
        if isinstance(value, int):
            result.append(value)
            continue
        view, offset = value, 0
        while offset < len(view):
            item, offset = _varint(view, offset)
            result.append(item)
    return [struct.unpack("<q", struct.pack("<Q", item & (2**64 - 1)))[0] for item in result]
