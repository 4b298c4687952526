"""Bounded memory for data the scanner makes: decompressed streams and copies of slices.

Up to ``ScanOptions.spill_bytes`` stay in memory; anything larger goes to an unlinked temporary
file that is mapped read-only, so the operating system pages it in and out instead of the scan
holding it. The file disappears when the last reference to the mapping does. Readers that go
through a mapping once (decompression, the pickle machine) ``release`` what they have read.
"""

from __future__ import annotations

import mmap
from typing import IO

from modelyard.scan.formats.base import Buffer

_COPY_CHUNK = 1 << 22


class SpillBuffer:
    """Collects pieces of data; keeps them in memory until they pass ``threshold`` bytes."""

    def __init__(self, threshold: int) -> None:
        self.threshold = threshold
        self.size = 0
        self._pieces: list[bytes] = []
        self._file: IO[bytes] | None = None

    def write(self, piece: bytes | memoryview) -> None:
        self.size += len(piece)
        if self._file is None and self.size > self.threshold:
            # Closed by finish(); the file has no name, so nothing is left behind on a crash.
            # (tempfile is imported only here: most scans never spill.)
            import tempfile

            self._file = tempfile.TemporaryFile(prefix="modelyard-scan-")  # noqa: SIM115
            self._file.writelines(self._pieces)
            self._pieces.clear()
        if self._file is not None:
            self._file.write(piece)
        else:
            self._pieces.append(bytes(piece))

    def finish(self) -> Buffer:
        """Everything written, as bytes or as a read-only mapping of the spill file."""
        if self._file is None:
            data = b"".join(self._pieces)
            self._pieces.clear()
            return data
        with self._file as handle:
            handle.flush()
            self._file = None
            return mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)


def release(data: Buffer, start: int, end: int) -> None:
    """Tell the kernel that the pages of ``data[start:end]`` will not be read again soon, when
    ``data`` is a mapping (a file on disk, a spill file): they leave this process's memory and
    are read back from the file if they are needed after all."""
    if not isinstance(data, mmap.mmap) or not hasattr(mmap, "MADV_DONTNEED"):
        return
    first = -(-start // mmap.PAGESIZE) * mmap.PAGESIZE
    last = end // mmap.PAGESIZE * mmap.PAGESIZE
    if last > first:
        data.madvise(mmap.MADV_DONTNEED, first, last - first)


def hold(view: memoryview, threshold: int) -> Buffer:
    """A searchable, decodable copy of ``view`` (bytes, or a mapping once it is large)."""
    if len(view) <= threshold:
        return view.tobytes()
    spill = SpillBuffer(threshold)
    for start in range(0, len(view), _COPY_CHUNK):
        spill.write(view[start : start + _COPY_CHUNK])
    return spill.finish()
