"""MXNet ``.params`` files (``mx.nd.save``: a list of NDArrays and their names), read without MXNet.

Layout, little-endian: the list magic ``0x112`` and a reserved word (uint64 each); the number of
arrays (uint64), then each array: its magic (uint32; V1 ``0xF993FAC8`` or V2 ``0xF993FAC9``), for
V2 its storage type (int32, 0 = dense), its shape (int32 rank, int64 sizes), its device (two
int32), its dtype flag (int32) and its values; last, the number of names (uint64) and each name
(uint64 length, UTF-8 bytes). Sparse arrays and V3 (numpy-shape) arrays are refused.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

from modelyard.convert.errors import ConvertError

_LIST_MAGIC = 0x112
_V1, _V2, _V3 = 0xF993FAC8, 0xF993FAC9, 0xF993FACA
_DENSE = 0
# MXNet's dtype flags, as numpy dtypes (little-endian).
_DTYPES = {
    0: "<f4",
    1: "<f8",
    2: "<f2",
    3: "u1",
    4: "<i4",
    5: "i1",
    6: "<i8",
    7: "?",
}
_MAX_RANK = 32


def read_params(path: Path) -> dict[str, Any]:
    """Name (``arg:NAME``, ``aux:NAME`` or as saved) -> numpy array, from an MXNet ``.params``.

    Raises ``ConvertError`` for files that are not NDArray lists, and for sparse, V3 or
    unknown-dtype arrays (naming them).
    """
    try:
        data = path.read_bytes()
    except OSError as error:
        raise ConvertError(f"cannot read {path}: {error}") from None
    reader = _Reader(data, path.name)
    try:
        if reader.unpack("<QQ")[0] != _LIST_MAGIC:
            raise ConvertError(f"{path.name} is not an MXNet NDArray file (.params)")
        arrays = [reader.array(index) for index in range(reader.count())]
        names = [reader.take(reader.count()).decode("utf-8") for _ in range(reader.count())]
    except (struct.error, UnicodeDecodeError) as error:
        raise ConvertError(f"{path.name} is truncated or damaged: {error}") from None
    if names and len(names) != len(arrays):
        raise ConvertError(f"{path.name} has {len(arrays)} arrays but {len(names)} names")
    return dict(zip(names or map(str, range(len(arrays))), arrays, strict=True))


class _Reader:
    def __init__(self, data: bytes, name: str) -> None:
        self.data, self.name, self.offset = data, name, 0

    def take(self, size: int) -> bytes:
        if size < 0 or self.offset + size > len(self.data):
            raise struct.error(f"needs {size} bytes at offset {self.offset}")
        chunk = self.data[self.offset : self.offset + size]
        self.offset += size
        return chunk

    def unpack(self, layout: str) -> tuple[Any, ...]:
        return struct.unpack(layout, self.take(struct.calcsize(layout)))

    def count(self) -> int:
        (count,) = self.unpack("<Q")
        if count > len(self.data):
            raise struct.error(f"a count of {count} in a file of {len(self.data)} bytes")
        return int(count)

    def array(self, index: int) -> Any:
        import numpy as np

        (magic,) = self.unpack("<I")
        if magic == _V3:
            raise ConvertError(
                f"array {index} of {self.name} is in MXNet's V3 (numpy shape) format, "
                "which modelyard does not read"
            )
        if magic not in (_V1, _V2):
            raise ConvertError(f"array {index} of {self.name} has an unknown format {magic:#x}")
        if magic == _V2:
            (storage,) = self.unpack("<i")
            if storage != _DENSE:
                raise ConvertError(
                    f"array {index} of {self.name} is sparse (storage type {storage}), "
                    "which modelyard does not read"
                )
        (rank,) = self.unpack("<i")
        if not 0 <= rank <= _MAX_RANK:
            raise ConvertError(f"array {index} of {self.name} has rank {rank}")
        shape = self.unpack(f"<{rank}q")
        if rank == 0:
            return np.zeros((0,), dtype=np.float32)
        self.unpack("<ii")  # the device it was saved from
        (flag,) = self.unpack("<i")
        if flag not in _DTYPES:
            raise ConvertError(f"array {index} of {self.name} has dtype flag {flag}, not read")
        dtype = np.dtype(_DTYPES[flag])
        count = int(np.prod(shape))
        values = np.frombuffer(self.take(count * dtype.itemsize), dtype=dtype)
        return values.reshape(shape).astype(dtype.newbyteorder("="))
