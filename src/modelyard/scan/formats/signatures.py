"""How each format's streams begin or are named: what the engine checks to pass a stream by the
readers that cannot claim it, without importing them.

Each ``Signature`` holds for every stream its reader's ``sniff`` claims (the reader still
decides); the magic numbers here are the readers' own.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import NamedTuple

from modelyard.scan.formats.base import Buffer

PICKLE_PROTO = b"\x80"  # the PROTO opcode that opens a protocol 2+ pickle
# Opcodes that can begin a protocol 0 or 1 pickle (which has no PROTO header).
LEGACY_PICKLE_FIRST = b"(cNIJKLMFGSTUVX]})lditpgPQ"
ZIP_LOCAL = b"PK\x03\x04"
ZIP_END = b"PK\x05\x06"
# The end-of-central-directory record is 22 bytes plus a comment of up to 65,535.
ZIP_END_SEARCH = 22 + 0xFFFF
NPY_MAGIC = b"\x93NUMPY"
PARQUET_MAGIC = b"PAR1"
GGUF_MAGIC = b"GGUF"
CATBOOST_MAGIC = b"CBM1"
MXNET_PARAMS_MAGIC = struct.pack("<QQ", 0x112, 0)  # an NDArray list, then a reserved 0
# A MessagePack map (fixmap, map16, map32).
MSGPACK_MAPS = (*(bytes([marker]) for marker in range(0x81, 0x90)), b"\xde", b"\xdf")
NEMO_CONFIG_NAME = "model_config.yaml"
TFLITE_IDENTIFIER = b"TFL3"  # a FlatBuffer's file identifier, after its root offset
HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
# HDF5 allows a user block before the superblock, in powers of two from 512 bytes.
HDF5_OFFSETS = (0, 512, 1024, 2048, 4096)

# What text formats may start with before their first character: a UTF-8 byte order mark and
# ASCII whitespace.
_BLANK = b"\xef\xbb\xbf \t\n\r\x0b\x0c"
# Protocol buffer wire types a field can have in the formats read here (no groups).
_PROTOBUF_WIRE_TYPES = frozenset({0, 1, 2, 5})


class Signature(NamedTuple):
    """What a stream of one format begins with, holds or is called; any one of them will do."""

    # Prefixes of the stream from byte ``at``; from the start, a byte order mark and whitespace
    # are skipped (a blank head may be anything).
    starts: tuple[bytes, ...] = ()
    at: int = 0
    # Endings of its name (a whole name such as ``model_config.yaml`` included).
    names: tuple[str, ...] = ()
    # A quick test of the stream's bytes, for formats known by structure.
    test: Callable[[Buffer], bool] | None = None

    def admits(self, data: Buffer, head: bytes, name: str) -> bool:
        """Whether a stream of ``data`` (first bytes ``head``) named ``name`` may be in the
        format."""
        start = head[self.at :] if self.at else head.lstrip(_BLANK)
        return (
            not start
            or start.startswith(self.starts)
            or name.endswith(self.names)
            or (self.test is not None and self.test(data))
        )


def opens_protobuf_message(data: Buffer) -> bool:
    """Whether ``data`` can begin a message: a first field key with a number and a wire type."""
    return data[0] >= 8 and data[0] & 7 in _PROTOBUF_WIRE_TYPES


def is_tar(data: Buffer) -> bool:
    """Whether ``data`` starts with a tar header: ustar's magic, or a v7 header's checksum."""
    block = bytes(data[:512])
    if len(block) < 512:
        return False
    if block[257:262] == b"ustar":
        return True
    try:
        stored = int(block[148:156].strip(b"\0 ") or b"-1", 8)
    except ValueError:
        return False
    computed = sum(block[:148]) + 8 * 32 + sum(block[156:512])
    return stored == computed and block[0] != 0


def has_hdf5_signature(data: Buffer) -> bool:
    """Whether ``data`` is an HDF5 file (whose signature may follow a user block)."""
    return any(bytes(data[offset : offset + 8]) == HDF5_SIGNATURE for offset in HDF5_OFFSETS)


def may_be_compressed(data: Buffer) -> bool:
    """Whether ``data``'s first byte can open a gzip, bzip2, xz, LZ4 frame, LZMA, zlib or
    joblib ``ZF`` stream (zlib's first byte is any with deflate's method, 8, in its low bits)."""
    return data[0] in b"\x1fB\xfd\x04\x5dZ" or data[0] & 0x0F == 8


def starts_as_zip(head: bytes) -> bool:
    """Whether a stream starting with ``head`` is a zip archive from its first byte."""
    return head[:4] in (ZIP_LOCAL, ZIP_END)


def may_end_with_archive(data: Buffer) -> bool:
    """Whether ``data``'s tail holds an end-of-central-directory record, where every zip reader
    looks for one first."""
    return ZIP_END in bytes(data[-ZIP_END_SEARCH:])
