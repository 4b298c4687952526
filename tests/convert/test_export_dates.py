"""``export_dates``: date columns export as epoch seconds whose parts the graph computes."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from modelyard.learn.model import Model
from modelyard.package import load, save

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")
pytest.importorskip("skl2onnx")
pytest.importorskip("onnxmltools")

from modelyard.convert import export_dates  # noqa: E402
from modelyard.convert.export import TOLERANCE, export_onnx  # noqa: E402
from modelyard.convert.package import save_onnx_package  # noqa: E402
from modelyard.learn.backends.onnx import DATES_KEY, OnnxModel  # noqa: E402
from modelyard.learn.preprocess import DATETIME_PARTS, date_parts, parse_datetimes  # noqa: E402


def _table(rows: int, seed: int) -> tuple[pd.DataFrame, pd.Series]:
    """Numbers and two date columns (drawn in many time zones, some missing); the target
    depends on the dates' parts."""
    rng = np.random.default_rng(seed)
    # Training rows hold no unparseable text, which would make the column's kind ambiguous.
    drawn = export_dates.draw(rng, rows + len(export_dates.EDGE_CASES))
    frame = pd.DataFrame(
        {
            "amount": rng.normal(size=rows),
            "visit day": drawn[len(export_dates.EDGE_CASES) :],
            "born": pd.to_datetime(rng.integers(-3e9, 1.5e9, rows), unit="s"),
        }
    )
    stamps = parse_datetimes(frame["visit day"])
    target = (
        stamps.dt.month.fillna(6) / 12
        + (stamps.dt.day_of_week.fillna(0) >= 5)
        + stamps.dt.hour.fillna(0) / 24
        + (frame["born"].dt.year < 1960)
        + frame["amount"]
    )
    return frame, target


def _checked_rows() -> pd.DataFrame:
    """Rows with every edge case (before 1970, leap days, ends of years, time zones, missing
    and unparseable values) in each date column."""
    frame, _ = _table(60, seed=7)
    edges = list(export_dates.EDGE_CASES) * 5
    frame.loc[: len(edges) - 1, "visit day"] = edges[: len(frame)]
    frame["born"] = frame["born"].astype(object)
    frame.loc[[3, 11], "born"] = [None, pd.Timestamp("1904-02-29 23:59:59")]
    return frame


def test_the_graph_computes_the_parts_of_every_instant_as_pandas_does():
    from onnx import TensorProto, helper

    inputs = [
        helper.make_tensor_value_info(part, TensorProto.DOUBLE, [None, 1])
        for part in DATETIME_PARTS
    ]
    outputs = [
        helper.make_tensor_value_info(f"{part}_out", TensorProto.DOUBLE, [None, 1])
        for part in DATETIME_PARTS
    ]
    nodes = [helper.make_node("Identity", [part], [f"{part}_out"]) for part in DATETIME_PARTS]
    graph = helper.make_graph(nodes, "parts", inputs, outputs)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 15)])
    # every day from 1677 to 2262 (pandas' range) at an hour that moves through the day, and NaN
    days = np.arange(-106_700, 106_700)
    seconds = days * 86_400.0 + (days % 24) * 3_600 + 59.5
    stamps = pd.Series(pd.to_datetime(seconds, unit="s", utc=True))
    export_dates.take_epoch_seconds(model, {"when": 0})

    runner = OnnxModel(model.SerializeToString(), "regression")
    values = runner.outputs({"when": np.append(seconds, np.nan).reshape(-1, 1)})
    for part, numbers in date_parts(stamps).items():
        expected = np.append(numbers.to_numpy(), np.nan)
        np.testing.assert_array_equal(values[f"{part}_out"].ravel(), expected, err_msg=part)
    assert [value.name for value in model.graph.input] == ["when"]
    assert all(opset.version <= 15 for opset in model.opset_import if opset.domain == "")


@pytest.mark.parametrize(
    ("name", "task"),
    [
        ("lightgbm", "classification"),
        ("lightgbm", "regression"),
        ("xgboost", "classification"),
        ("xgboost", "regression"),
        ("sklearn.linear", "classification"),
        ("sklearn.random_forest", "regression"),
        ("sklearn.hist_gradient_boosting", "classification"),
    ],
)
def test_a_package_with_date_columns_exports_and_predicts_from_the_raw_frame(tmp_path, name, task):
    X, target = _table(300, seed=1)
    y = (
        (target > target.median()).map({True: "high", False: "low"})
        if task == "classification"
        else target
    )
    model = Model(model=name, seed=1).fit(X, y)
    assert model.schema_.columns["visit day"] == "datetime" == model.schema_.columns["born"]
    rows = _checked_rows()

    result = export_onnx(save(model, tmp_path / "pkg"), tmp_path / "model.onnx", data=rows)

    assert result.labels_identical and result.max_difference <= TOLERANCE
    assert result.inputs == ["amount", "visit day", "born"]
    exported = onnx.load(result.path)
    assert [value.name for value in exported.graph.input] == ["amount", "visit_day", "born"]
    assert exported.graph.input[1].type.tensor_type.elem_type == onnx.TensorProto.DOUBLE
    metadata = {prop.key: prop.value for prop in exported.metadata_props}
    assert json.loads(metadata[DATES_KEY]) == dict.fromkeys(
        ["visit day", "born"], export_dates.CONVENTION
    )
    # Checked on drawn rows too (the edge cases, many time zones), then packaged.
    assert export_onnx(tmp_path / "pkg", tmp_path / "drawn.onnx").max_difference <= TOLERANCE
    classes = list(model.classes_) if task == "classification" else []
    origin = {"format": "modelyard", "files": {}, "check": "export_onnx"}
    packaged = load(
        save_onnx_package(exported, tmp_path / "onnx", task=task, classes=classes, origin=origin)
    )
    if task == "classification":
        runner = OnnxModel(result.path.read_bytes(), task)
        np.testing.assert_array_equal(runner.predict(rows), model.predict(rows))
        np.testing.assert_array_equal(packaged.predict(rows), model.predict(rows))
        np.testing.assert_allclose(
            packaged.predict_proba(rows), model.predict_proba(rows), atol=TOLERANCE
        )
    else:
        np.testing.assert_allclose(
            packaged.predict(rows), model.predict(rows), rtol=TOLERANCE, atol=TOLERANCE
        )
