"""The manifest: which backend a package names, and manifests that do not parse."""

from __future__ import annotations

import json

import pytest

from modelyard.package import PackageError
from modelyard.package.manifest import MANIFEST, Manifest, manifest_backend


def _write(directory, data):
    directory.mkdir(exist_ok=True)
    (directory / MANIFEST).write_text(json.dumps(data), encoding="utf-8")
    return directory


def test_manifest_backend_names_any_packages_backend(tmp_path):
    assert manifest_backend(_write(tmp_path / "spark", {"backend": "spark"})) == "spark"
    assert manifest_backend(_write(tmp_path / "local", {"backend": "xgboost"})) == "xgboost"


def test_manifest_backend_is_none_without_a_readable_manifest(tmp_path):
    assert manifest_backend(tmp_path) is None
    assert manifest_backend(_write(tmp_path / "list", ["backend"])) is None
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / MANIFEST).write_text("{", encoding="utf-8")
    assert manifest_backend(tmp_path / "broken") is None


def test_an_unknown_task_is_a_damaged_manifest(tmp_path):
    data = {"model": "xgboost", "backend": "xgboost", "framework": {}, "task": "clustering"}
    _write(tmp_path, {**data, "target": None, "input": {}})
    with pytest.raises(PackageError, match="damaged: unknown task 'clustering'"):
        Manifest.read(tmp_path)
