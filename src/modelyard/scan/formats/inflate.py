"""Decompression in bounded memory and time, for every compressed layer that loaders unwrap.

``inflate`` feeds compressed data to the decompressor in small pieces and charges what comes out
to the file's decompression budget. It stops, and reports why, as soon as the data is damaged or
cut off, the budget is spent, the scan's deadline passes, or the output grows the way only
decompression bombs grow. Output beyond ``ScanOptions.spill_bytes`` goes to a temporary file
(``scan.spill``), so memory stays bounded whatever the input.
"""

from __future__ import annotations

import bz2
import lzma
import zlib
from collections.abc import Iterator
from typing import Literal, Protocol

from modelyard.scan import rules
from modelyard.scan.formats.base import Buffer, ScanContext
from modelyard.scan.options import Deadline
from modelyard.scan.spill import SpillBuffer, release

# "deflate" is raw deflate (zip members); "zip-lzma" is LZMA behind zip's 4-byte header.
Compression = Literal["gzip", "zlib", "deflate", "bzip2", "xz", "lzma", "lz4", "zip-lzma"]

# Errors that decompressors raise for damaged data.
DAMAGE = (EOFError, OSError, ValueError, zlib.error, lzma.LZMAError)

_INPUT_CHUNK = 1 << 16
# Input read through a mapping is released from memory in steps of this size.
_RELEASE_EVERY = 16 << 20
_OUTPUT_CHUNK = 1 << 22
# zlib's decompressors keep input they could not use yet in ``unconsumed_tail``.
_ZLIB_FAMILY: frozenset[Compression] = frozenset({"gzip", "zlib", "deflate"})
# Formats whose files may hold several compressed members back to back.
_MULTI_MEMBER: frozenset[Compression] = frozenset({"gzip", "bzip2", "xz", "lzma"})


class _Decompressor(Protocol):
    @property
    def eof(self) -> bool: ...

    @property
    def unused_data(self) -> bytes | None: ...  # lz4 leaves None when nothing follows

    def decompress(self, data: bytes | memoryview, max_length: int = ..., /) -> bytes: ...


def decompressor(kind: Compression) -> _Decompressor:
    """A fresh decompressor for one member of ``kind`` (not ``zip-lzma``, which needs its
    header: see ``_start``)."""
    if kind == "gzip":
        return zlib.decompressobj(31)
    if kind == "zlib":
        return zlib.decompressobj()
    if kind == "deflate":
        return zlib.decompressobj(-15)
    if kind == "bzip2":
        return bz2.BZ2Decompressor()
    if kind == "xz":
        return lzma.LZMADecompressor(lzma.FORMAT_XZ)
    if kind == "lzma":
        return lzma.LZMADecompressor(lzma.FORMAT_ALONE)
    if kind == "lz4":
        import lz4.frame

        return lz4.frame.LZ4FrameDecompressor()  # type: ignore[no-any-return]
    raise ValueError(f"{kind} needs its header to make a decompressor")


def inflate(
    data: Buffer, kind: Compression, what: str, ctx: ScanContext, span: slice = slice(None)
) -> Buffer:
    """Decompress ``data[span]`` (described as ``what`` in findings); returns what came out,
    all of it or the part before the reported reason to stop.

    Pass the whole buffer and a ``span`` rather than a slice of it, so that input already read
    can be released from memory when the buffer is a mapping.
    """
    options = ctx.options
    budget = ctx.file.budget
    out = SpillBuffer(options.spill_bytes)
    start, end, _ = span.indices(len(data))
    released = start
    try:
        for consumed, piece in _pieces(memoryview(data)[start:end], kind, ctx.file.deadline):
            if start + consumed - released > _RELEASE_EVERY:
                release(data, released, start + consumed)
                released = start + consumed
            out.write(piece)
            if out.size > budget:
                ctx.report(
                    rules.LIMIT_EXCEEDED,
                    f"{what} expands beyond what is left of max_decompressed_bytes "
                    f"({budget} bytes); only the first part was scanned",
                )
                break
            if (
                out.size > options.bomb_min_bytes
                and out.size > options.max_expansion_ratio * consumed
            ):
                ratio = out.size / max(consumed, 1)
                ctx.report(
                    rules.DECOMPRESSION_BOMB,
                    f"{what} expands {ratio:,.0f} times, from {consumed:,} to {out.size:,} bytes "
                    "so far; decompression stopped there",
                )
                ctx.report(
                    rules.LIMIT_EXCEEDED,
                    f"the rest of {what} was not scanned: it expands beyond "
                    f"max_expansion_ratio ({options.max_expansion_ratio})",
                )
                break
    except DAMAGE as error:
        ctx.report(rules.MALFORMED, f"{what} is damaged ({error}); scanned what came out")
    finally:
        ctx.file.budget -= out.size
    return out.finish()


def _pieces(view: memoryview, kind: Compression, deadline: Deadline) -> Iterator[tuple[int, bytes]]:
    """(compressed bytes read so far, a piece of output), member after member."""
    pos = 0
    while True:
        engine, pos = _start(kind, view, pos)
        pending: bytes | memoryview = b""
        chunk: bytes | memoryview
        while not engine.eof:
            deadline.check()
            if kind in _ZLIB_FAMILY:
                if not pending:
                    pending = _next_chunk(view, pos)
                    pos += len(pending)
                piece = engine.decompress(pending, _OUTPUT_CHUNK)
                pending = engine.unconsumed_tail  # type: ignore[attr-defined]
            else:
                chunk = b""
                if engine.needs_input:  # type: ignore[attr-defined]
                    chunk = _next_chunk(view, pos)
                    pos += len(chunk)
                piece = engine.decompress(chunk, _OUTPUT_CHUNK)
            if piece:
                yield pos - len(pending), piece
        pos -= len(engine.unused_data or b"") + len(pending)
        if kind not in _MULTI_MEMBER or _only_padding(view[pos:]):
            return


def _start(kind: Compression, view: memoryview, pos: int) -> tuple[_Decompressor, int]:
    """A decompressor for the member at ``pos`` and where its compressed data starts."""
    if kind != "zip-lzma":
        return decompressor(kind), pos
    # zip's LZMA members: version (2 bytes), properties size (2 bytes), LZMA1 properties.
    header = bytes(view[pos : pos + 9])
    if len(header) < 9 or header[2:4] != b"\x05\x00":
        raise ValueError("zip LZMA header is missing or not 5 property bytes")
    modes, dict_size = header[4], int.from_bytes(header[5:9], "little")
    lc, lp, pb = modes % 9, modes // 9 % 5, modes // 45
    lzma1 = {"id": lzma.FILTER_LZMA1, "lc": lc, "lp": lp, "pb": pb, "dict_size": dict_size}
    return lzma.LZMADecompressor(lzma.FORMAT_RAW, filters=[lzma1]), pos + 9


def _next_chunk(view: memoryview, pos: int) -> memoryview:
    chunk = view[pos : pos + _INPUT_CHUNK]
    if not chunk:
        raise EOFError("the compressed data ends before its end marker")
    return chunk


def _only_padding(rest: memoryview) -> bool:
    """Whether what follows a member is nothing or zero bytes (which loaders ignore)."""
    return all(
        not bytes(rest[start : start + _OUTPUT_CHUNK]).strip(b"\0")
        for start in range(0, len(rest), _OUTPUT_CHUNK)
    )
