"""Compressed streams (gzip, bzip2, xz, lzma, zlib, lz4 and joblib's old zlib files): the
decompressed data is scanned as a nested stream, within the limits ``inflate`` keeps."""

from __future__ import annotations

from typing import ClassVar

from modelyard.scan.formats.base import ScanContext, Stream
from modelyard.scan.formats.inflate import DAMAGE, Compression, decompressor, inflate

# joblib < 0.10 wrote zlib data behind this prefix and a hex length padded to 19 bytes.
_JOBLIB_ZFILE_PREFIX = b"ZF"
_JOBLIB_ZFILE_HEADER = 2 + 19


def _trial(kind: Compression, head: bytes) -> bool:
    try:
        decompressor(kind).decompress(head)
    except DAMAGE:
        return False
    return True


def compression_of(head: bytes) -> Compression | None:
    """The compression format that ``head`` starts with, if any."""
    if head[:2] == b"\x1f\x8b":
        return "gzip"
    if head[:3] == b"BZh" and head[3:4].isdigit():
        return "bzip2"
    if head[:6] == b"\xfd7zXZ\x00":
        return "xz"
    if head[:4] == b"\x04\x22\x4d\x18":
        return "lz4"
    if head[:1] == b"\x5d" and len(head) >= 13 and _trial("lzma", head):
        return "lzma"
    if len(head) >= 2 and head[0] & 0x0F == 8 and (head[0] << 8 | head[1]) % 31 == 0:
        return "zlib" if _trial("zlib", head) else None
    return None


class CompressedReader:
    """Any compression that Python's loaders (joblib, gzip.open, ...) unwrap transparently."""

    name: ClassVar[str] = "compressed"

    def sniff(self, head: bytes, stream: Stream) -> bool:
        if compression_of(head) is not None:
            return True
        return head[:2] == _JOBLIB_ZFILE_PREFIX and _trial("zlib", head[_JOBLIB_ZFILE_HEADER:])

    def scan(self, stream: Stream, ctx: ScanContext) -> None:
        kind = compression_of(bytes(stream.data[:64]))
        span = slice(None)
        if kind is None:
            kind, span = "zlib", slice(_JOBLIB_ZFILE_HEADER, None)
        expanded = inflate(stream.data, kind, f"{kind} data", ctx, span)
        inner = ctx.scan_nested(expanded, f"<{kind}>")
        ctx.kind = f"{inner} ({kind})"
