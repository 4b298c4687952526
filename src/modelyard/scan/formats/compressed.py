"""Compressed streams (gzip, bzip2, xz, lzma, zlib, lz4 and joblib's old zlib files): the
decompressed data is scanned as a nested stream, within the decompression budget."""

from __future__ import annotations

import bz2
import lzma
import zlib
from typing import Any, ClassVar

from modelyard.scan import rules
from modelyard.scan.formats.base import Buffer, ScanContext, Stream

_CHUNK = 1 << 22
# joblib < 0.10 wrote zlib data behind this prefix and a hex length padded to 19 bytes.
_JOBLIB_ZFILE_PREFIX = b"ZF"
_JOBLIB_ZFILE_HEADER = 2 + 19
# Formats whose files may hold several compressed members back to back.
_MULTI_MEMBER = ("gzip", "bzip2", "xz", "lzma")


class LimitReached(Exception):
    """Decompression produced more than the budget allows."""


def _engine(kind: str) -> Any:
    if kind == "gzip":
        return zlib.decompressobj(31)
    if kind == "zlib":
        return zlib.decompressobj()
    if kind == "bzip2":
        return bz2.BZ2Decompressor()
    if kind == "xz":
        return lzma.LZMADecompressor(lzma.FORMAT_XZ)
    if kind == "lzma":
        return lzma.LZMADecompressor(lzma.FORMAT_ALONE)
    import lz4.frame

    return lz4.frame.LZ4FrameDecompressor()


def decompress(data: Buffer, kind: str, budget: int, out: list[bytes]) -> None:
    """Append decompressed pieces of ``data`` to ``out``.

    Raises ``EOFError`` if the data ends early, ``LimitReached`` past ``budget`` bytes, and the
    decompressor's own error for damaged data; ``out`` keeps what came out before.
    """
    produced = 0
    view = memoryview(data)
    while view:
        engine = _engine(kind)
        pending: Any = view
        while not engine.eof:
            if kind in ("gzip", "zlib"):
                piece = engine.decompress(pending, _CHUNK)
                pending = engine.unconsumed_tail
                stuck = not piece and not pending
            else:
                piece = engine.decompress(pending, max_length=_CHUNK)
                pending = b""
                stuck = engine.needs_input and not engine.eof
            if piece:
                out.append(piece)
                produced += len(piece)
                if produced > budget:
                    raise LimitReached
            if stuck:
                raise EOFError("the compressed data ends before its end marker")
        rest = engine.unused_data if kind in _MULTI_MEMBER else b""
        view = memoryview(rest) if rest.strip(b"\0") else memoryview(b"")


def _trial(kind: str, head: bytes) -> bool:
    try:
        _engine(kind).decompress(head)
    except (zlib.error, lzma.LZMAError, OSError, ValueError):
        return False
    return True


def compression_of(head: bytes) -> str | None:
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
        data: Buffer = stream.data
        kind = compression_of(bytes(data[:64]))
        if kind is None:
            kind = "zlib"
            data = memoryview(data)[_JOBLIB_ZFILE_HEADER:]
        budget = ctx.file.budget
        pieces: list[bytes] = []
        try:
            decompress(data, kind, budget, pieces)
        except LimitReached:
            ctx.report(
                rules.LIMIT_EXCEEDED,
                f"{kind} data expands beyond what is left of max_decompressed_bytes "
                f"({budget} bytes); only the first part was scanned",
            )
        except (EOFError, OSError, ValueError, zlib.error, lzma.LZMAError) as error:
            ctx.report(rules.MALFORMED, f"{kind} data is damaged ({error}); scanned what came out")
        expanded = b"".join(pieces)
        ctx.count_expansion(f"{kind} data", len(data), len(expanded))
        inner = ctx.scan_nested(expanded, f"<{kind}>")
        ctx.kind = f"{inner} ({kind})"
