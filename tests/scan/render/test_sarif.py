"""SARIF 2.1.0 output: the fields code-scanning tools read."""

from __future__ import annotations

import json

from modelyard.scan import scan
from modelyard.scan.render import to_json, to_sarif


def test_sarif_lists_every_finding_with_its_rule(tmp_path):
    (tmp_path / "a.pkl").write_bytes(b"cos\nsystem\n(S'true'\ntR")
    (tmp_path / "b.bin").write_bytes(bytes(range(200)))
    document = json.loads(to_sarif(scan(tmp_path)))
    assert document["version"] == "2.1.0"
    run = document["runs"][0]
    rules = [rule["id"] for rule in run["tool"]["driver"]["rules"]]
    results = run["results"]
    assert sorted({r["ruleId"] for r in results}) == rules
    assert {r["ruleId"] for r in results} == {"MY-PKL-001", "MY-SCN-002", "MY-SCN-001"}
    for result in results:
        assert rules[result["ruleIndex"]] == result["ruleId"]
        assert result["level"] == "error"
        assert result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert run["properties"]["verdict"] == "unsafe"


def test_json_report_has_summary_and_findings(tmp_path):
    (tmp_path / "a.pkl").write_bytes(b"cos\nsystem\n(S'true'\ntR.")
    document = json.loads(to_json(scan(tmp_path)))
    assert document["verdict"] == "unsafe"
    assert document["summary"]["files"] == 1 and document["summary"]["unsafe"] == 1
    assert document["files"][0]["findings"][0]["subject"] == "os.system"


def test_sarif_is_valid_against_the_sarif_2_1_0_schema(tmp_path):
    """pydantic-sarif is the official JSON schema turned into a model (extra keys forbidden)."""
    from pydantic_sarif.model import StaticAnalysisResultsFormatSarifVersion210JsonSchema as Log

    (tmp_path / "a.pkl").write_bytes(b"cos\nsystem\n(S'true'\ntR.")
    (tmp_path / "b.bin").write_bytes(bytes(range(200)))
    (tmp_path / "c.zip").write_bytes(b"PK\x03\x04" + bytes(40))
    (tmp_path / "ok.pkl").write_bytes(b"\x80\x04K\x01.")
    log = Log.model_validate_json(to_sarif(scan(tmp_path)))
    assert len(log.runs[0].results) >= 3
