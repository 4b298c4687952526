"""PyTorch checkpoints edited where ``zipfile`` and PyTorch's reader (miniz) part ways, or
where another loader reads the same archive.

PyTorch finds each record through the central directory, ignores the flags and the name in a
member's local header, skips the CRC-32 check and looks names up case-insensitively; ``zipfile``
(and the scanners built on it) refuse or miss each of these, while ``torch.load`` runs the pickle.
"""

from __future__ import annotations

import io
import struct
import zipfile
from collections.abc import Iterator

_CENTRAL = b"PK\x01\x02"


def _central_entries(data: bytes | bytearray) -> Iterator[tuple[int, str, int]]:
    """``(position, name, local header offset)`` of every central directory entry."""
    pos = data.find(_CENTRAL)
    while pos >= 0:
        (name_length,) = struct.unpack_from("<H", data, pos + 28)
        (local,) = struct.unpack_from("<L", data, pos + 42)
        yield pos, bytes(data[pos + 46 : pos + 46 + name_length]).decode(), local
        pos = data.find(_CENTRAL, pos + 46 + name_length)


def _edit(checkpoint: bytes, member: str, edit: str) -> bytes:
    """``checkpoint`` with one member's headers changed by ``edit``."""
    data = bytearray(checkpoint)
    pos, name, local = next(entry for entry in _central_entries(data) if entry[1] == member)
    if edit == "local-flags":
        # Encrypted, compressed patch data and strong encryption, in the local header only.
        data[local + 6] |= 0x1 | 0x20 | 0x40
    elif edit == "local-name":
        folded = name.rsplit("/", 1)[0] + "/" + name.rsplit("/", 1)[1].upper()
        data[local + 30 : local + 30 + len(name)] = folded.encode()
    elif edit == "crc":
        struct.pack_into("<L", data, pos + 16, 0xDEADBEEF)
    elif edit == "case":
        for entry_pos, entry_name, entry_local in list(_central_entries(data)):
            folded = entry_name.upper().encode()
            data[entry_pos + 46 : entry_pos + 46 + len(folded)] = folded
            data[entry_local + 30 : entry_local + 30 + len(folded)] = folded
    return bytes(data)


# (file name, edit, technique) of each variant.
_VARIANTS = (
    (
        "zip_local_encrypted.pt",
        "local-flags",
        "encryption bits in the pickle's local header (PyTorch ignores local flags)",
    ),
    (
        "zip_local_name.pt",
        "local-name",
        "local header names the pickle differently (zipfile refuses, PyTorch ignores it)",
    ),
    ("zip_bad_crc.pt", "crc", "wrong CRC-32 on the pickle (zipfile refuses, PyTorch skips it)"),
    (
        "zip_case_folded.pt",
        "case",
        "upper-case record names (PyTorch looks records up case-insensitively)",
    ),
)


def torch_zip_variants(checkpoint: bytes) -> list[tuple[str, bytes, str]]:
    """``(file name, bytes, technique)`` of each edit of ``checkpoint`` that PyTorch loads."""
    member = next(name for _, name, _ in _central_entries(checkpoint) if name.endswith(".pkl"))
    return [
        (name, _edit(checkpoint, member, edit), technique) for name, edit, technique in _VARIANTS
    ]


def npy_as_torch_storage(checkpoint: bytes, npy: bytes) -> bytes:
    """``checkpoint`` with one more storage-named member holding ``npy``: ``torch.load`` never
    reads it, but ``numpy.load`` reads every member that starts as an array file."""
    buffer = io.BytesIO(checkpoint)
    with zipfile.ZipFile(buffer, "a") as archive:
        folder = archive.namelist()[0].split("/", 1)[0]
        archive.writestr(zipfile.ZipInfo(f"{folder}/data/99"), npy)
    return buffer.getvalue()
