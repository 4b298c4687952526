"""Helpers for scanner tests: write bytes to a file and scan it."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from modelyard.scan import FileResult, scan


@pytest.fixture
def scan_bytes(tmp_path: Path) -> Callable[..., FileResult]:
    """Write ``data`` to a file named ``name`` and return the scan result for it."""

    def run(data: bytes, name: str = "sample.bin") -> FileResult:
        path = tmp_path / name
        path.write_bytes(data)
        return scan(path).files[0]

    return run


def rule_ids(result: FileResult) -> set[str]:
    return {finding.rule_id for finding in result.findings}


def zipped(members: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    """A zip archive holding ``members`` (name -> content), written by ``zipfile``."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()
