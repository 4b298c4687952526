"""Core ML: what coremltools writes (scripts/coreml_fixtures.py) is safe, the weights of an ML
program package are its data; custom classes, linked models, weights outside the package and
broken protobufs are flagged."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from modelyard.scan import scan
from tests.scan.conftest import rule_ids

FIXTURES = Path(__file__).parent / "fixtures" / "coreml"
PROGRAM = Path("program.mlpackage/Data/com.apple.CoreML/model.mlmodel")


def test_what_coremltools_writes_gets_its_verdict():
    verdicts = {
        str(Path(r.path).relative_to(FIXTURES)): (r.format, str(r.verdict), rule_ids(r))
        for r in scan(FIXTURES).files
    }
    assert verdicts == {
        "dense.mlmodel": ("coreml", "safe", set()),
        "custom_layer.mlmodel": ("coreml", "suspicious", {"MY-CML-001"}),
        "pipeline_custom.mlmodel": ("coreml", "suspicious", {"MY-CML-001"}),
        "program.mlpackage/Manifest.json": ("text", "safe", set()),
        str(PROGRAM): ("coreml", "safe", set()),
        str(PROGRAM.parent / "weights/weight.bin"): ("tensor-data", "safe", {"MY-SCN-005"}),
    }


def test_weights_outside_the_package_are_unsafe(tmp_path):
    shutil.copytree(FIXTURES / "program.mlpackage", tmp_path / "program.mlpackage")
    model = tmp_path / PROGRAM
    data = model.read_bytes()
    # Same length, so every protobuf length stays right.
    assert data.count(b"weights/weight.bin") == 1
    model.write_bytes(data.replace(b"weights/weight.bin", b"../../../etc/hosts"))
    result = scan(model).files[0]
    assert result.verdict == "unsafe" and rule_ids(result) == {"MY-CML-003"}


def test_a_linked_model_is_suspicious(scan_bytes):
    def field(number: int, payload: bytes) -> bytes:
        key = number << 3 | 2
        tag = bytes([key & 0x7F | 0x80, key >> 7]) if key > 0x7F else bytes([key])
        return tag + bytes([len(payload)]) + payload

    link = field(1, field(1, field(1, b"Other.mlmodelc")))
    result = scan_bytes(b"\x08\x04" + field(556, link), "linked.mlmodel")
    assert (result.format, result.verdict) == ("coreml", "suspicious")
    assert result.findings[0].subject == "Other.mlmodelc"


@pytest.mark.parametrize("cut", [10, 60, 200])
def test_truncated_models_are_not_safe(scan_bytes, cut):
    data = (FIXTURES / "pipeline_custom.mlmodel").read_bytes()
    assert scan_bytes(data[:cut], "model.mlmodel").verdict == "error"
