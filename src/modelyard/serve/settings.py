"""The server's limits and batching settings, with the defaults ``modelyard serve --help`` shows."""

from __future__ import annotations

from dataclasses import dataclass, field

MIB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    """What one request may ask: body size, rows, and seconds until a 504."""

    max_body_bytes: int = 64 * MIB
    max_rows: int = 100_000
    timeout: float = 30.0


@dataclass(frozen=True)
class BatchSettings:
    """``max_batch_size`` rows per model call at most (a larger request runs alone);
    ``max_batch_delay`` seconds of waiting for requests still being read; ``max_queue``
    requests waiting per model before a 429."""

    max_batch_size: int = 64
    max_batch_delay: float = 0.002
    max_queue: int = 1024


@dataclass(frozen=True)
class ServeSettings:
    limits: Limits = field(default_factory=Limits)
    batching: BatchSettings = field(default_factory=BatchSettings)
