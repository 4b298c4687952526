"""Limits that keep hostile input from exhausting memory or time."""

from __future__ import annotations

import time
from typing import NamedTuple

GiB = 1 << 30


class ScanOptions(NamedTuple):
    """What a scan may spend. Hitting a limit gives an ``error`` result, never an exception."""

    # Total bytes decompression may produce for one file, across every nested layer.
    max_decompressed_bytes: int = 2 * GiB
    # Compressed data that expands more than this many times, to more than bomb_min_bytes,
    # is reported as a likely decompression bomb (real model files compress far less).
    max_expansion_ratio: int = 100
    bomb_min_bytes: int = 16 << 20
    # Decompressed data and copies larger than this go to a temporary file instead of memory.
    spill_bytes: int = 32 << 20
    # Seconds one file may take; past it the file's verdict is an error. None: no deadline.
    timeout: float | None = 300.0
    # Text formats (JSON configs, Python source, prototxt) are parsed only up to this size.
    max_text_bytes: int = 64 << 20
    # Values the pickle machine may hold at once (stack, memo and container items).
    max_pickle_values: int = 5_000_000
    max_memo_index: int = 1 << 26
    max_mark_depth: int = 10_000
    max_nesting: int = 8
    max_members: int = 100_000


class DeadlinePassed(Exception):
    """The file's scan ran past ``ScanOptions.timeout``; the file is an error, never safe."""


class Deadline(NamedTuple):
    """When the scan of one file must stop (``at`` on the monotonic clock; ``None``: never)."""

    at: float | None = None

    @classmethod
    def after(cls, seconds: float | None) -> Deadline:
        return cls(None if seconds is None else time.monotonic() + seconds)

    def check(self) -> None:
        """Raise ``DeadlinePassed`` once the deadline is behind us."""
        if self.at is not None and time.monotonic() > self.at:
            raise DeadlinePassed
