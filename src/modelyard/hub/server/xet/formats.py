"""Reading the Xet wire formats: a xorb's chunks and footer, a shard's file and xorb sections.

Both are read sequentially from a file object, one record at a time, so memory stays bounded by
the largest chunk (128 KiB) whatever the object's size. Every malformed input raises
``InvalidRequestError`` saying what was wrong and where.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import BinaryIO

import lz4.frame

from modelyard.hub.errors import InvalidRequestError
from modelyard.hub.server.xet.hashing import HASH_BYTES, chunk_hash, keyed, to_hex

MAX_CHUNK_BYTES = 128 * 1024
MAX_XORB_BYTES = 64 * 1024 * 1024  # of chunk data, before the chunk headers and the footer
MAX_XORB_CHUNKS = 8 * 1024
MAX_SHARD_BYTES = 64 * 1024 * 1024
_CHUNK_HEADER = 8
# A full xorb of incompressible chunks is larger than MAX_XORB_BYTES on the wire: each chunk
# adds its header and, in the footer, its hash and offsets (40 bytes; 64 leaves room).
MAX_SERIALIZED_XORB_BYTES = MAX_XORB_BYTES + MAX_XORB_CHUNKS * (_CHUNK_HEADER + 64) + 4096
_XORB_IDENT = b"XETBLOB"
_HASHES_IDENT = b"XBLBHSH"
_SHARD_TAG = b"HFRepoMetaData\x00UigEj{\x81W\x83\xa5\xbd\xd9\\\xcd\xd1J\xa9"
_BOOKEND = b"\xff" * HASH_BYTES
_ENTRY = struct.Struct("<32sIIII")  # every shard record is 48 bytes
_FILE_HEADER = struct.Struct("<32sIIQ")
_WITH_VERIFICATION = 1 << 31
_WITH_METADATA = 1 << 30
_NO_COMPRESSION, _LZ4, _BG4_LZ4 = 0, 1, 2


def _read_exact(source: BinaryIO, size: int, what: str) -> bytes:
    data = source.read(size)
    if len(data) != size:
        raise InvalidRequestError(f"{what} is truncated: expected {size} bytes, got {len(data)}")
    return data


@dataclass(frozen=True)
class Chunk:
    """One chunk of a xorb: its hash, uncompressed length and serialized byte span."""

    hash: bytes
    length: int
    byte_start: int
    byte_end: int


def _regroup(data: bytes) -> bytes:
    """Undo the byte grouping that stores every fourth byte together before compression."""
    size = len(data)
    out = bytearray(size)
    position = 0
    for group in range(4):
        length = size // 4 + (1 if group < size % 4 else 0)
        out[group::4] = data[position : position + length]
        position += length
    return bytes(out)


def decompress(scheme: int, payload: bytes, length: int, where: str) -> bytes:
    """A chunk's bytes from its serialized ``payload``; refuses any other length than
    ``length`` (so a small payload cannot expand beyond it)."""
    if scheme == _NO_COMPRESSION:
        data = payload
    elif scheme in (_LZ4, _BG4_LZ4):
        try:
            data = lz4.frame.LZ4FrameDecompressor().decompress(payload, max_length=length + 1)
        except RuntimeError as error:
            raise InvalidRequestError(f"{where}: invalid LZ4 data ({error})") from None
        if scheme == _BG4_LZ4:
            data = _regroup(data)
    else:
        raise InvalidRequestError(f"{where}: unknown compression scheme {scheme}")
    if len(data) != length:
        raise InvalidRequestError(
            f"{where}: decompresses to {len(data)} bytes, its header says {length}"
        )
    return data


def read_chunk(source: BinaryIO, where: str) -> tuple[bytes, int] | None:
    """The next chunk's bytes and serialized size, or None at the xorb's footer."""
    header = source.read(_CHUNK_HEADER)
    if not header or header.startswith(_XORB_IDENT):
        return None
    if len(header) != _CHUNK_HEADER:
        raise InvalidRequestError(f"{where}: truncated chunk header")
    version, scheme = header[0], header[4]
    packed = int.from_bytes(header[1:4], "little")
    length = int.from_bytes(header[5:8], "little")
    if version != 0:
        raise InvalidRequestError(f"{where}: unsupported chunk version {version}")
    if length > MAX_CHUNK_BYTES or packed > 2 * MAX_CHUNK_BYTES:
        raise InvalidRequestError(f"{where}: chunk larger than {MAX_CHUNK_BYTES} bytes")
    payload = _read_exact(source, packed, where)
    return decompress(scheme, payload, length, where), _CHUNK_HEADER + packed


def read_xorb(source: BinaryIO, expected: bytes) -> list[Chunk]:
    """Every chunk of a serialized xorb, each hashed from its decompressed bytes.

    Clients may append a footer listing the xorb hash and chunk hashes; when present it must
    name the xorb ``expected`` and list exactly these chunks.
    """
    chunks: list[Chunk] = []
    offset = 0
    while True:
        where = f"chunk {len(chunks)} at byte {offset}"
        read = read_chunk(source, where)
        if read is None:
            break
        data, size = read
        chunks.append(Chunk(chunk_hash(data), len(data), offset, offset + size))
        offset += size
    source.seek(offset)
    if source.read(1):
        source.seek(offset)
        _check_footer(source, expected, chunks)
    return chunks


def _check_footer(source: BinaryIO, expected: bytes, chunks: list[Chunk]) -> None:
    footer = _read_exact(source, 52, "the xorb footer")
    if not footer.startswith(_XORB_IDENT) or footer[7] != 1 or footer[40:47] != _HASHES_IDENT:
        raise InvalidRequestError("the xorb has an unsupported or malformed footer")
    if footer[8:40] != expected:
        raise InvalidRequestError(
            f"the xorb's footer names xorb {to_hex(footer[8:40])}, not {to_hex(expected)}"
        )
    (count,) = struct.unpack_from("<I", footer, 48)
    if count != len(chunks):
        raise InvalidRequestError(f"the footer lists {count} chunks, the xorb has {len(chunks)}")
    for index, chunk in enumerate(chunks):
        listed = _read_exact(source, HASH_BYTES, "the xorb footer's chunk hashes")
        if listed != chunk.hash:
            raise InvalidRequestError(
                f"chunk {index} hashes to {to_hex(chunk.hash)} but the footer lists "
                f"{to_hex(listed)}: the xorb is corrupted"
            )


@dataclass(frozen=True)
class Term:
    """A segment of a file: chunks ``[start, end)`` of ``xorb``, ``length`` bytes."""

    xorb: bytes
    start: int
    end: int
    length: int


@dataclass(frozen=True)
class ShardFile:
    """A file described by a shard: its hash, segments, verification hashes and sha256."""

    hash: bytes
    terms: tuple[Term, ...]
    range_hashes: tuple[bytes, ...]
    sha256: str | None


@dataclass(frozen=True)
class ShardXorb:
    """A xorb listed by a shard with its chunks' hashes and lengths."""

    hash: bytes
    chunks: tuple[tuple[bytes, int], ...]


@dataclass(frozen=True)
class Shard:
    files: tuple[ShardFile, ...]
    xorbs: tuple[ShardXorb, ...]


def _entries(source: BinaryIO, count: int, what: str) -> Iterator[tuple[bytes, int, int, int, int]]:
    for _ in range(count):
        yield _ENTRY.unpack(_read_exact(source, _ENTRY.size, what))


def read_shard(source: BinaryIO) -> Shard:
    """The file and xorb sections of a shard (its lookup tables and footer are not needed)."""
    header = _read_exact(source, 48, "the shard header")
    if header[:32] != _SHARD_TAG:
        raise InvalidRequestError("not a Xet shard: wrong magic number")
    files: list[ShardFile] = []
    while True:
        digest, flags, count, _ = _FILE_HEADER.unpack(_read_exact(source, 48, "a file entry"))
        if digest == _BOOKEND:
            break
        what = f"file {to_hex(digest)}"
        terms = tuple(
            Term(xorb, start, end, length)
            for xorb, _, length, start, end in _entries(source, count, what)
        )
        range_hashes: tuple[bytes, ...] = ()
        if flags & _WITH_VERIFICATION:
            range_hashes = tuple(entry[0] for entry in _entries(source, count, what))
        sha256 = None
        if flags & _WITH_METADATA:
            sha256 = to_hex(next(_entries(source, 1, what))[0])
        files.append(ShardFile(digest, terms, range_hashes, sha256))
    xorbs: list[ShardXorb] = []
    while True:
        digest, _, count, _, _ = _ENTRY.unpack(_read_exact(source, 48, "a xorb entry"))
        if digest == _BOOKEND:
            break
        chunks = tuple(
            (chunk, length)
            for chunk, _, length, _, _ in _entries(source, count, f"xorb {to_hex(digest)}")
        )
        xorbs.append(ShardXorb(digest, chunks))
    return Shard(tuple(files), tuple(xorbs))


def _truncated(digest: bytes) -> int:
    return int.from_bytes(digest[:8], "little")


@dataclass(frozen=True)
class DedupXorb:
    """A stored xorb as a dedup answer lists it: hash, chunks (hash, length), size on disk."""

    hash: bytes
    chunks: Sequence[tuple[bytes, int]]
    packed_size: int


def dedup_shard(xorbs: Sequence[DedupXorb], key: bytes, valid: tuple[int, int]) -> bytes:
    """A shard that lists stored xorbs for global deduplication: no files, each xorb's chunks
    with their hashes keyed by ``key``, the lookup tables, and a footer valid from ``valid[0]``
    to ``valid[1]`` (seconds since the epoch)."""
    header_size, footer_size = 48, 200
    body = bytearray(_SHARD_TAG + struct.pack("<QQ", 2, footer_size))
    body += _BOOKEND + bytes(16)  # no files
    xorb_info = len(body)
    xorb_entries: list[tuple[int, int]] = []  # (truncated xorb hash, entry index)
    chunk_entries: list[tuple[int, int, int]] = []  # (truncated keyed hash, entry index, chunk)
    entry = 0  # lookups point at 48-byte entries of the xorb section: a header, then its chunks
    packed = unpacked = 0
    for xorb in xorbs:
        size = sum(length for _, length in xorb.chunks)
        body += _ENTRY.pack(xorb.hash, 0, len(xorb.chunks), size, xorb.packed_size)
        xorb_entries.append((_truncated(xorb.hash), entry))
        position = 0
        for index, (digest, length) in enumerate(xorb.chunks):
            hidden = keyed(digest, key)
            body += _ENTRY.pack(hidden, position, length, 0, 0)
            chunk_entries.append((_truncated(hidden), entry, index))
            position += length
        entry += 1 + len(xorb.chunks)
        packed += xorb.packed_size
        unpacked += size
    body += _BOOKEND + bytes(16)
    xorb_lookup = len(body)  # the file lookup table is empty and starts here too
    for truncated, index in sorted(xorb_entries):
        body += struct.pack("<QI", truncated, index)
    chunk_lookup = len(body)
    for truncated, index, chunk in sorted(chunk_entries):
        body += struct.pack("<QII", truncated, index, chunk)
    footer_offset = len(body)
    body += struct.pack(
        "<9Q32sQQ6QQQQQ",
        1,
        header_size,
        xorb_info,
        xorb_lookup,
        0,
        xorb_lookup,
        len(xorb_entries),
        chunk_lookup,
        len(chunk_entries),
        key,
        *valid,
        *([0] * 6),
        packed,
        0,
        unpacked,
        footer_offset,
    )
    return bytes(body)
