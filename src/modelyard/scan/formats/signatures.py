"""How each format's streams begin or are named: what the engine checks to pass a stream by the
readers that cannot claim it, without importing them.

Each ``Signature`` holds for every stream its reader's ``sniff`` claims (the reader still
decides); the magic numbers here are the readers' own.
"""

from __future__ import annotations

import struct
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

# What text formats may start with before their first character: a UTF-8 byte order mark and
# ASCII whitespace.
_BLANK = b"\xef\xbb\xbf \t\n\r\x0b\x0c"
# Protocol buffer wire types a field can have in the formats read here (no groups).
_PROTOBUF_WIRE_TYPES = frozenset({0, 1, 2, 5})


class Signature(NamedTuple):
    """What a stream of one format begins with or is called; any one of them will do.

    (A named tuple, not a dataclass: the registry makes one per reader at every start.)
    """

    # Prefixes of the stream's first bytes, a byte order mark and whitespace skipped.
    starts: tuple[bytes, ...] = ()
    # Endings of its name (a whole name such as ``model_config.yaml`` included).
    names: tuple[str, ...] = ()
    # Or a first byte that can open a protocol buffer message (which has no magic number).
    protobuf: bool = False

    def admits(self, head: bytes, name: str) -> bool:
        """Whether a stream whose first bytes are ``head`` and whose name is ``name`` may be in
        the format (a blank head may be anything)."""
        start = head.lstrip(_BLANK)
        return (
            not start
            or start.startswith(self.starts)
            or name.endswith(self.names)
            or (self.protobuf and opens_protobuf_message(head))
        )


def opens_protobuf_message(head: bytes) -> bool:
    """Whether ``head`` can begin a message: a first field key with a number and a wire type."""
    return head[0] >= 8 and head[0] & 7 in _PROTOBUF_WIRE_TYPES


def starts_as_zip(head: bytes) -> bool:
    """Whether a stream starting with ``head`` is a zip archive from its first byte."""
    return head[:4] in (ZIP_LOCAL, ZIP_END)


def may_end_with_archive(data: Buffer) -> bool:
    """Whether ``data``'s tail holds an end-of-central-directory record, where every zip reader
    looks for one first."""
    return ZIP_END in bytes(data[-ZIP_END_SEARCH:])
