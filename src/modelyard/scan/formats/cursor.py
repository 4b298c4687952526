"""Reading a buffer front to back, for the readers of self-describing binary formats."""

from __future__ import annotations

import struct

from modelyard.scan.formats.base import Buffer


class Cursor:
    """A position in a buffer; reading past its end raises ``error`` (the format's own)."""

    def __init__(self, data: Buffer, error: type[ValueError]) -> None:
        self.data = memoryview(data).cast("B")
        self.offset = 0
        self.error = error

    def take(self, size: int) -> memoryview:
        if size < 0 or self.offset + size > len(self.data):
            raise self.error(f"{size} bytes at byte {self.offset} run past the end")
        piece = self.data[self.offset : self.offset + size]
        self.offset += size
        return piece

    def unpack(self, fmt: str) -> int:
        """One integer in ``struct`` format ``fmt``."""
        (value,) = struct.unpack(fmt, self.take(struct.calcsize(fmt)))
        return int(value)

    def rest(self) -> int:
        return len(self.data) - self.offset
