"""Renderings of a scan report: text for people, JSON and SARIF for programs."""

from __future__ import annotations

from modelyard.scan.render.json import to_json
from modelyard.scan.render.sarif import to_sarif
from modelyard.scan.render.text import to_text

__all__ = ["to_json", "to_sarif", "to_text"]
