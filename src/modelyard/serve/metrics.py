"""Prometheus metrics of the server, rendered in the text exposition format at ``/metrics``.

Every series is labelled with ``model`` and ``version`` (the hub commit, or the manifest hash).
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from dataclasses import dataclass, field
from typing import ClassVar

Labels = tuple[tuple[str, str], ...]

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 1024, 4096, 16384)


def _labels(labels: Labels) -> str:
    def escape(value: str) -> str:
        return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")

    return "{" + ",".join(f'{key}="{escape(value)}"' for key, value in labels) + "}"


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


@dataclass
class _Series:
    """One value per label set, rendered as ``kind`` (``counter`` or ``gauge``)."""

    name: str
    help: str
    values: dict[Labels, float] = field(default_factory=lambda: defaultdict(float))
    kind: ClassVar[str]

    def render(self) -> list[str]:
        lines = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} {self.kind}"]
        lines += [f"{self.name}{_labels(key)} {_number(v)}" for key, v in self.values.items()]
        return lines


@dataclass
class Counter(_Series):
    kind = "counter"

    def inc(self, labels: Labels, amount: float = 1.0) -> None:
        self.values[labels] += amount


@dataclass
class Gauge(_Series):
    kind = "gauge"

    def set(self, labels: Labels, value: float) -> None:
        self.values[labels] = value


@dataclass
class Histogram:
    name: str
    help: str
    buckets: tuple[float, ...]
    counts: dict[Labels, list[int]] = field(default_factory=dict)
    sums: dict[Labels, float] = field(default_factory=lambda: defaultdict(float))

    def observe(self, labels: Labels, value: float) -> None:
        counts = self.counts.get(labels)
        if counts is None:
            counts = self.counts[labels] = [0] * (len(self.buckets) + 1)
        counts[bisect.bisect_left(self.buckets, value)] += 1
        self.sums[labels] += value

    def render(self) -> list[str]:
        lines = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} histogram"]
        for key, counts in self.counts.items():
            total = 0
            for bound, count in zip((*self.buckets, float("inf")), counts, strict=True):
                total += count
                le = "+Inf" if bound == float("inf") else _number(bound)
                lines.append(f"{self.name}_bucket{_labels((*key, ('le', le)))} {total}")
            lines.append(f"{self.name}_sum{_labels(key)} {_number(self.sums[key])}")
            lines.append(f"{self.name}_count{_labels(key)} {total}")
        return lines


@dataclass
class Metrics:
    """The server's metrics; the event loop is the only writer, so no locks are needed."""

    requests: Counter = field(
        default_factory=lambda: Counter(
            "modelyard_serve_requests_total", "Prediction requests answered, by status code."
        )
    )
    latency: Histogram = field(
        default_factory=lambda: Histogram(
            "modelyard_serve_request_duration_seconds",
            "Time from reading a prediction request to answering it.",
            LATENCY_BUCKETS,
        )
    )
    batch_size: Histogram = field(
        default_factory=lambda: Histogram(
            "modelyard_serve_batch_size", "Rows per call of the model.", BATCH_BUCKETS
        )
    )
    queue_depth: Gauge = field(
        default_factory=lambda: Gauge(
            "modelyard_serve_queue_depth", "Requests waiting for the model."
        )
    )

    def render(self) -> str:
        lines: list[str] = []
        for metric in (self.requests, self.latency, self.batch_size, self.queue_depth):
            lines += metric.render()
        return "\n".join(lines) + "\n"


def model_labels(name: str, version: str) -> Labels:
    return (("model", name), ("version", version))
