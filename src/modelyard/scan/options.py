"""Limits that keep hostile input from exhausting memory or time."""

from __future__ import annotations

from dataclasses import dataclass

GiB = 1 << 30


@dataclass(frozen=True)
class ScanOptions:
    """What a scan may spend. Hitting a limit gives an ``error`` result, never an exception."""

    # Total bytes decompression may produce for one file, across every nested layer.
    max_decompressed_bytes: int = 2 * GiB
    # Compressed data that expands more than this many times, to more than bomb_min_bytes,
    # is reported as a likely decompression bomb (real model files compress far less).
    max_expansion_ratio: int = 100
    bomb_min_bytes: int = 16 << 20
    max_memo_index: int = 1 << 26
    max_mark_depth: int = 10_000
    max_nesting: int = 8
    max_members: int = 100_000
