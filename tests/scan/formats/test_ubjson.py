"""XGBoost UBJSON models: what XGBoost writes is safe, and so is what follows the document, which
XGBoost ignores; broken documents are errors."""

from __future__ import annotations

import io
import os
import pickle
import zipfile

import numpy as np
import pytest
import xgboost
from sklearn.datasets import load_iris

from tests.scan.conftest import rule_ids


class _Payload:
    def __reduce__(self) -> tuple[object, ...]:
        return os.system, ("true",)


@pytest.fixture(scope="module")
def model_bytes(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    x, y = load_iris(return_X_y=True)
    path = tmp_path_factory.mktemp("xgb") / "model.ubj"
    xgboost.XGBClassifier(n_estimators=3).fit(x, y).save_model(path)
    return path.read_bytes()


def test_xgboost_models_are_safe(tmp_path, scan_bytes, model_bytes):
    result = scan_bytes(model_bytes, "model.ubj")
    assert (result.format, result.verdict, result.findings) == ("xgboost", "safe", [])
    booster = xgboost.Booster()
    booster.load_model(bytearray(model_bytes))
    regressor = xgboost.XGBRegressor(n_estimators=2).fit(np.eye(4), np.arange(4.0))
    regressor.save_model(tmp_path / "regressor.ubj")
    assert scan_bytes((tmp_path / "regressor.ubj").read_bytes(), "r.ubj").verdict == "safe"


def test_plain_ubjson_is_safe_data(scan_bytes):
    document = b"{U\x04nameSU\x02abU\x04list[$i#U\x03\x01\x02\x03U\x03nil[Z]}"
    result = scan_bytes(document, "data.ubj")
    assert (result.format, result.verdict) == ("ubjson", "safe")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda data: data[: len(data) // 2], "run past the end"),
        (lambda data: data[:-1] + b"?", "expected a length"),
    ],
)
def test_broken_documents_are_errors(scan_bytes, model_bytes, change, message):
    result = scan_bytes(change(model_bytes), "model.ubj")
    assert result.verdict == "error" and rule_ids(result) == {"MY-SCN-002"}
    assert message in result.findings[0].message
    with pytest.raises(xgboost.core.XGBoostError):
        xgboost.Booster().load_model(bytearray(change(model_bytes)))


@pytest.mark.parametrize("tail", [b"\n", b"PK\x03\x04", b"}]", b"\x00" * 64, b"{U\x01a"])
def test_bytes_after_the_document_are_reported_as_xgboost_ignores_them(
    scan_bytes, model_bytes, tail
):
    booster = xgboost.Booster()
    booster.load_model(bytearray(model_bytes + tail))
    assert booster.num_boosted_rounds() == 3
    result = scan_bytes(model_bytes + tail, "model.ubj")
    assert (result.format, result.verdict, rule_ids(result)) == ("xgboost", "safe", {"MY-UBJ-001"})
    assert f"{len(tail)} bytes follow the document" in result.findings[0].message
    assert result.findings[0].offset == len(model_bytes)


def test_a_zip_after_the_document_is_judged(scan_bytes, model_bytes):
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as writer:
        writer.writestr("archive/data.pkl", pickle.dumps(_Payload(), protocol=2))
    result = scan_bytes(model_bytes + archive.getvalue(), "model.ubj")
    assert result.verdict == "unsafe"
    assert {"MY-UBJ-001", "MY-ARC-005", "MY-PKL-001"} <= rule_ids(result)


def test_deep_nesting_is_an_error_not_a_crash(scan_bytes):
    result = scan_bytes(b"{U\x01a" + b"[" * 10_000, "deep.ubj")
    assert result.verdict == "error" and "nested more than" in result.findings[0].message


def test_json_text_stays_text(scan_bytes):
    assert scan_bytes(b'{"learner": {}}', "config.json").format == "text"
