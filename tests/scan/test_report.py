"""Reports written by ``to_dict`` read back by ``from_dict``, and data files adopted by a model."""

from __future__ import annotations

import posixpath

from modelyard.scan import FileResult, ScanReport, rules
from modelyard.scan.api import adopt_data_files


def _unknown(path: str) -> FileResult:
    return FileResult(path, "unknown", [rules.UNSUPPORTED_FORMAT.finding("no known format")])


def test_a_report_reads_back_as_written() -> None:
    model = FileResult(
        "<file>",
        "onnx",
        [rules.TENSOR_DATA.finding("m", member="a/b", offset=3, subject="s", detail="d")],
        size=10,
        data_files=["weights.bin"],
    )
    report = ScanReport(files=[model, _unknown("x")], seconds=0.1234)
    document = report.to_dict()
    assert ScanReport.from_dict(document).to_dict() == document
    assert FileResult.from_dict(document["files"][1]).verdict == "error"


def test_repo_paths_adopt_only_unknown_files_their_model_reads() -> None:
    model = FileResult("<file>", "onnx", data_files=["../data/w.bin", "missing.bin"])
    data, stray = _unknown("<file>"), _unknown("<file>")
    known = FileResult("<file>", "numpy", data_files=[])
    results = [
        ("onnx/model.onnx", model),
        ("data/w.bin", data),
        ("stray.bin", stray),
        ("onnx/missing.bin", known),
    ]
    assert adopt_data_files(results, posixpath.normpath) == ["data/w.bin"]
    assert data.format == "tensor-data"
    assert [finding.to_dict() for finding in data.findings] == [
        {
            "rule_id": rules.TENSOR_DATA.id,
            "severity": "info",
            "message": "read as raw tensor data by onnx/model.onnx",
        }
    ]
    assert data.verdict == "safe" and stray.verdict == "error" and known.format == "numpy"
