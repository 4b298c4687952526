"""A scan report as JSON: the verdict, a summary, and every file with its findings."""

from __future__ import annotations

import json

from modelyard.scan.report import ScanReport


def to_json(report: ScanReport) -> str:
    """The report as indented JSON (``ScanReport.to_dict`` is the schema)."""
    return json.dumps(report.to_dict(), indent=2)
