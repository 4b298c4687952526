"""Machine-readable renderings of a scan report (the CLI renders text itself, with Rich)."""

from __future__ import annotations

from modelyard.scan.render.json import to_json
from modelyard.scan.render.sarif import to_sarif

__all__ = ["to_json", "to_sarif"]
