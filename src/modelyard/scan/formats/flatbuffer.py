"""A minimal reader of FlatBuffers tables, for TensorFlow Lite models.

It knows no schemas: the caller names each field by its index in the schema and says what it
holds. Every offset is checked against the buffer, so hostile offsets raise ``FlatbufferError``
instead of reading elsewhere.
"""

from __future__ import annotations

import struct

from modelyard.scan.formats.base import Buffer


class FlatbufferError(ValueError):
    """An offset or length in the buffer points outside it."""


class Table:
    """One table: ``position`` is where its offset to the vtable is stored."""

    def __init__(self, data: Buffer, position: int) -> None:
        self.data = data
        self.position = position
        vtable = position - _read(data, "<i", position)
        self._vtable_size = _read(data, "<H", vtable)
        self._vtable = vtable
        if self._vtable_size < 4 or self._vtable_size % 2:
            raise FlatbufferError(f"the table at byte {position} has a vtable of bad size")
        _check(data, vtable, self._vtable_size)

    @classmethod
    def root(cls, data: Buffer) -> Table:
        return cls(data, _read(data, "<I", 0))

    def field(self, index: int) -> int | None:
        """Where field ``index`` is stored (``None``: absent, so its default)."""
        entry = 4 + 2 * index
        if entry >= self._vtable_size:
            return None
        offset = _read(self.data, "<H", self._vtable + entry)
        return self.position + offset if offset else None

    def scalar(self, index: int, fmt: str, default: int = 0) -> int:
        where = self.field(index)
        return default if where is None else _read(self.data, fmt, where)

    def _vector(self, index: int, item_size: int) -> tuple[int, int]:
        """Where the items of vector field ``index`` start, and how many there are."""
        where = self.field(index)
        if where is None:
            return 0, 0
        start = where + _read(self.data, "<I", where)
        length = _read(self.data, "<I", start)
        _check(self.data, start + 4, length * item_size)
        return start + 4, length

    def integers(self, index: int, fmt: str = "<i") -> list[int]:
        start, length = self._vector(index, struct.calcsize(fmt))
        return [
            int(value)
            for (value,) in struct.iter_unpack(
                fmt, self.data[start : start + length * struct.calcsize(fmt)]
            )
        ]

    def tables(self, index: int) -> list[Table]:
        start, length = self._vector(index, 4)
        items = (start + 4 * item for item in range(length))
        return [Table(self.data, item + _read(self.data, "<I", item)) for item in items]

    def table(self, index: int) -> Table | None:
        where = self.field(index)
        return None if where is None else Table(self.data, where + _read(self.data, "<I", where))

    def string(self, index: int) -> str:
        start, length = self._vector(index, 1)
        return bytes(self.data[start : start + length]).decode("utf-8", "replace")

    def length(self, index: int, item_size: int = 1) -> int:
        """How many items vector field ``index`` holds (0 if absent)."""
        return self._vector(index, item_size)[1]


def _check(data: Buffer, start: int, size: int) -> None:
    if start < 0 or size < 0 or start + size > len(data):
        raise FlatbufferError(f"{size} bytes at byte {start} lie outside the {len(data)} bytes")


def _read(data: Buffer, fmt: str, offset: int) -> int:
    _check(data, offset, struct.calcsize(fmt))
    (value,) = struct.unpack_from(fmt, data, offset)
    return int(value)
