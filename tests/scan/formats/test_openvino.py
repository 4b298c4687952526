"""OpenVINO IR: what OpenVINO writes (scripts/openvino_fixtures.py) is safe and its weights are
its data; XML with entities, extension layers, missing weights and constants outside them are
flagged."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from modelyard.scan import scan
from tests.scan.conftest import rule_ids

FIXTURES = Path(__file__).parent / "fixtures" / "openvino"


@pytest.fixture
def ir(tmp_path: Path) -> Path:
    """A copy of the fixture's folder; returns the graph's path."""
    for name in ("model.xml", "model.bin"):
        shutil.copy(FIXTURES / name, tmp_path / name)
    return tmp_path / "model.xml"


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def test_what_openvino_writes_is_safe_and_its_weights_are_its_data():
    report = scan(FIXTURES)
    assert [(Path(r.path).name, r.format, str(r.verdict)) for r in report.files] == [
        ("model.bin", "tensor-data", "safe"),
        ("model.xml", "openvino", "safe"),
    ]
    assert report.files[1].findings == []


@pytest.mark.parametrize(
    ("prolog", "name"),
    [
        ('<!DOCTYPE net [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;">]>', "&b;"),
        ('<!DOCTYPE net [<!ENTITY secret SYSTEM "file:///etc/passwd">]>', "&secret;"),
        ('<!DOCTYPE net SYSTEM "http://127.0.0.1:9/evil.dtd">', "dense"),
    ],
)
def test_document_types_and_entities_are_refused(ir, prolog, name):
    _edit(ir, '<?xml version="1.0"?>', f'<?xml version="1.0"?>\n{prolog}')
    _edit(ir, 'name="dense"', f'name="{name}"')
    result = scan(ir).files[0]
    assert result.verdict == "error" and rule_ids(result) == {"MY-SCN-002"}
    assert "was not expanded" in result.findings[0].message


def test_a_layer_from_an_extension_is_suspicious(ir):
    _edit(ir, 'type="ReLU" version="opset1"', 'type="FastRelu" version="custom_opset"')
    result = scan(ir).files[0]
    assert result.verdict == "suspicious" and rule_ids(result) == {"MY-OV-001"}
    assert result.findings[0].subject == "custom_opset.FastRelu"


def test_missing_weights_are_an_error(ir):
    (ir.parent / "model.bin").unlink()
    result = scan(ir).files[0]
    assert result.verdict == "error" and rule_ids(result) == {"MY-OV-002"}


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('offset="128" size="32"', 'offset="240" size="32"', "runs past the end"),
        ('offset="128" size="32"', 'offset="128" size="16"', "does not take 16 bytes"),
        ('offset="128" size="32"', 'offset="-4" size="32"', "negative"),
    ],
)
def test_constants_outside_the_weights_are_errors(ir, old, new, message):
    _edit(ir, old, new)
    result = scan(ir).files[0]
    assert result.verdict == "error" and rule_ids(result) == {"MY-SCN-002"}
    assert message in result.findings[0].message


def test_truncated_xml_is_an_error(ir):
    ir.write_bytes(ir.read_bytes()[:700])
    result = scan(ir).files[0]
    assert (result.format, result.verdict) == ("openvino", "error")
