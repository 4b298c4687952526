"""Limits that keep hostile input from exhausting memory or time."""

from __future__ import annotations

from dataclasses import dataclass

GiB = 1 << 30


@dataclass(frozen=True)
class ScanOptions:
    """What a scan may spend. Hitting a limit gives an ``error`` result, never an exception."""

    max_decompressed_bytes: int = 2 * GiB
    max_memo_index: int = 1 << 26
    max_mark_depth: int = 10_000
    max_nesting: int = 8
    max_members: int = 100_000
