"""A scan report as SARIF 2.1.0, the format code-scanning dashboards (GitHub, GitLab) import."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from modelyard import __version__
from modelyard.scan.report import Finding, ScanReport, Severity
from modelyard.scan.rules import RULES

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_LEVEL = {
    Severity.INFO: "note",
    Severity.SUSPICIOUS: "warning",
    Severity.ERROR: "error",
    Severity.UNSAFE: "error",
}


def _rule_descriptor(rule_id: str) -> dict[str, Any]:
    rule = RULES[rule_id]
    return {
        "id": rule.id,
        "name": "".join(word.capitalize() for word in rule.title.split()),
        "shortDescription": {"text": rule.title},
        "fullDescription": {"text": rule.explanation},
        "help": {"text": rule.explanation},
        "defaultConfiguration": {"level": _LEVEL[rule.severity]},
        "properties": {"severity": str(rule.severity)},
    }


def _result(finding: Finding, path: str, rule_index: dict[str, int]) -> dict[str, Any]:
    location: dict[str, Any] = {"artifactLocation": {"uri": Path(path).as_posix()}}
    if finding.offset is not None and finding.member is None:
        location["region"] = {"byteOffset": finding.offset}
    result: dict[str, Any] = {
        "ruleId": finding.rule_id,
        "ruleIndex": rule_index[finding.rule_id],
        "level": _LEVEL[finding.severity],
        "message": {"text": finding.message},
        "locations": [{"physicalLocation": location}],
        "properties": {"severity": str(finding.severity)},
    }
    if finding.member is not None:
        result["locations"][0]["logicalLocations"] = [
            {"fullyQualifiedName": finding.member, "kind": "member"}
        ]
    for key in ("member", "offset", "subject", "detail"):
        value = getattr(finding, key)
        if value is not None:
            result["properties"][key] = value
    return result


def to_sarif(report: ScanReport) -> str:
    """Every finding of every file as one SARIF 2.1.0 run."""
    used = sorted({finding.rule_id for finding in report.findings})
    rule_index = {rule_id: index for index, rule_id in enumerate(used)}
    results = [
        _result(finding, file.path, rule_index)
        for file in report.files
        for finding in file.findings
    ]
    document = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "modelyard",
                        "version": __version__,
                        "rules": [_rule_descriptor(rule_id) for rule_id in used],
                    }
                },
                "artifacts": [
                    {"location": {"uri": Path(file.path).as_posix()}, "length": file.size}
                    for file in report.files
                ],
                "results": results,
                "properties": {"verdict": str(report.verdict)},
            }
        ],
    }
    return json.dumps(document, indent=2)
