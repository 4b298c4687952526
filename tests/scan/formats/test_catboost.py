"""CatBoost ``.cbm``: what CatBoost writes (scripts/catboost_fixtures.py) is safe; truncated,
padded or inconsistent models are errors."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from modelyard.scan import scan
from tests.scan.conftest import rule_ids

FIXTURES = Path(__file__).parent / "fixtures" / "catboost"
MODEL = (FIXTURES / "classifier.cbm").read_bytes()


def test_what_catboost_writes_is_safe():
    verdicts = {
        Path(r.path).name: (r.format, str(r.verdict), r.findings) for r in scan(FIXTURES).files
    }
    assert verdicts == {
        "categorical.cbm": ("catboost", "safe", []),
        "classifier.cbm": ("catboost", "safe", []),
    }


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (MODEL[:6], "ends inside its header"),
        (MODEL[:4000], "runs past the end of the file"),
        (MODEL + b"\0" * 8, "8 bytes after the model core belong to nothing"),
        (MODEL.replace(b"FlabuffersModel_v1", b"FlabuffersModel_v9"), "not 'FlabuffersModel_v1'"),
        (MODEL[:8] + struct.pack("<I", 1 << 20) + MODEL[12:], "outside"),
    ],
)
def test_broken_models_are_errors(scan_bytes, data, message):
    result = scan_bytes(data, "model.cbm")
    assert result.verdict == "error" and rule_ids(result) == {"MY-SCN-002"}
    assert message in result.findings[0].message
