"""Universal Binary JSON, the format of XGBoost's default ``.ubj`` model files.

UBJSON holds only numbers, strings, arrays and objects: reading it never runs code. The whole
structure is walked (typed numeric arrays, the bulk of a model, are skipped over by their count),
so a truncated or inconsistent file is an error rather than safe. XGBoost reads one document and
ignores whatever follows it, so bytes after the document are reported but are no error.
"""

from __future__ import annotations

from typing import ClassVar

from modelyard.scan import rules
from modelyard.scan.formats.base import Buffer, ScanContext, Stream
from modelyard.scan.formats.cursor import Cursor
from modelyard.scan.report import Severity

# Value markers of fixed size, by their size in bytes (big-endian numbers).
_FIXED = {b"Z": 0, b"N": 0, b"T": 0, b"F": 0, b"i": 1, b"U": 1, b"C": 1, b"I": 2, b"l": 4}
_FIXED |= {b"L": 8, b"d": 4, b"D": 8}
_INTEGERS = {b"i": ">b", b"U": ">B", b"I": ">h", b"l": ">i", b"L": ">q"}
# XGBoost nests a handful of levels; the limit bounds the recursion a hostile file can cause.
_MAX_DEPTH = 64

BYTES_AFTER = rules.register(
    "MY-UBJ-001",
    Severity.INFO,
    "Bytes after the UBJSON document",
    """The file goes on after its UBJSON document ends. XGBoost reads the document and ignores the
    rest, so the model loads and the extra bytes are not part of it; the document was judged.
    Nothing XGBoost writes has them, so something else put them there: a file appended to, or a
    polyglot whose second meaning starts there (a zip archive at the end is scanned as well, see
    MY-ARC-005).""",
)


class UbjsonError(ValueError):
    """The bytes are not well-formed UBJSON."""


class _Walker(Cursor):
    def __init__(self, data: Buffer, ctx: ScanContext) -> None:
        super().__init__(data, UbjsonError)
        self.ctx = ctx

    def marker(self) -> bytes:
        return bytes(self.take(1))

    def integer(self, marker: bytes | None = None) -> int:
        marker = marker or self.marker()
        if marker not in _INTEGERS:
            raise UbjsonError(f"expected a length at byte {self.offset - 1}, found {marker!r}")
        return self.unpack(_INTEGERS[marker])

    def count(self) -> int:
        value = self.integer()
        if value < 0:
            raise UbjsonError(f"negative length {value} at byte {self.offset}")
        return value

    def key(self) -> str:
        return bytes(self.take(self.count())).decode("utf-8", "replace")

    def value(self, marker: bytes, depth: int) -> None:
        if marker in _FIXED:
            self.take(_FIXED[marker])
        elif marker in (b"S", b"H"):
            self.take(self.count())
        elif marker in (b"[", b"{"):
            if depth >= _MAX_DEPTH:
                raise UbjsonError(f"containers nested more than {_MAX_DEPTH} deep")
            self.container(marker == b"{", depth + 1)
        else:
            raise UbjsonError(f"unknown marker {marker!r} at byte {self.offset - 1}")

    def container(self, is_object: bool, depth: int) -> list[str]:
        """Walk an array or object whose opening marker was read; returns an object's keys."""
        self.ctx.file.deadline.check()
        keys: list[str] = []
        item_type: bytes | None = None
        count: int | None = None
        if self.data[self.offset : self.offset + 1] == b"$":
            self.offset += 1
            item_type = self.marker()
            if self.marker() != b"#":
                raise UbjsonError(f"a typed container without a count at byte {self.offset - 1}")
            count = self.count()
        elif self.data[self.offset : self.offset + 1] == b"#":
            self.offset += 1
            count = self.count()
        if item_type in _FIXED and not is_object and count is not None:
            self.take(count * _FIXED[item_type])  # a numeric array: skip the numbers
            return keys
        index = 0
        while count is None or index < count:
            closing = b"}" if is_object else b"]"
            if count is None and self.data[self.offset : self.offset + 1] == closing:
                self.offset += 1
                break
            if is_object:
                keys.append(self.key())
            self.value(item_type or self.marker(), depth)
            index += 1
        return keys


def walk(data: Buffer, ctx: ScanContext) -> tuple[list[str], int]:
    """Walk one UBJSON document to its end; returns the top-level object's keys and the offset
    where the document ends.

    Raises ``UbjsonError`` where the data breaks the format.
    """
    walker = _Walker(data, ctx)
    if walker.marker() != b"{":
        raise UbjsonError("the document is not an object")
    keys = walker.container(True, 1)
    return keys, walker.offset


class UbjsonReader:
    """UBJSON documents whose top level is an object, as XGBoost writes (``.ubj``)."""

    name: ClassVar[str] = "ubjson"

    def sniff(self, head: bytes, stream: Stream) -> bool:
        # An object opens with a key length (an integer marker) or an optimized-container marker;
        # JSON text never has one of these letters after its brace.
        return head[:1] == b"{" and head[1:2] in (b"i", b"U", b"I", b"l", b"L", b"$", b"#")

    def scan(self, stream: Stream, ctx: ScanContext) -> None:
        try:
            keys, end = walk(stream.data, ctx)
        except UbjsonError as error:
            ctx.report(rules.MALFORMED, f"UBJSON: {error}")
            return
        if end < len(stream.data):
            ctx.report(
                BYTES_AFTER,
                f"{len(stream.data) - end} bytes follow the document (from offset {end}); "
                "XGBoost ignores them",
                offset=end,
            )
        if {"learner", "version"} <= set(keys):
            ctx.kind = "xgboost"
