"""The compiled preprocessing gives the package pipeline's features, or is not used."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import modelyard
from modelyard.serve.fast import compile_estimator, compile_features
from modelyard.serve.inputs import check_columns
from tests.serve.conftest import _package


def _features(model, frame: pd.DataFrame):  # type: ignore[no-untyped-def]
    records = frame.astype(object).where(frame.notna(), None)
    if "joined" in records:
        records["joined"] = [None if v is None else v.isoformat() for v in records["joined"]]
    columns = {name: records[name].tolist() for name in records.columns}
    return check_columns(columns, model.schema_, max_rows=len(frame))


def _dense(features):  # type: ignore[no-untyped-def]
    return features.toarray() if hasattr(features, "toarray") else np.asarray(features)


@pytest.mark.parametrize("model", ["sklearn.linear", "sklearn.random_forest", "lightgbm"])
def test_compiled_features_equal_the_pipeline(penguins, tmp_path, model: str) -> None:
    loaded = modelyard.load(_package(penguins, "species", model, tmp_path / "pkg"))
    transform = compile_features(loaded)
    assert transform is not None
    rows = penguins.drop(columns=["species"])
    rows.loc[3, "island"] = "Atlantis"  # a category never seen in training
    expected = _dense(loaded.transform_features(rows)).astype("float64")
    np.testing.assert_allclose(
        _dense(transform(_features(loaded, rows))), expected, rtol=1e-12, equal_nan=True
    )


def test_booleans_and_dates_are_compiled_too(typed_package, typed_frame) -> None:
    loaded = modelyard.load(typed_package)
    transform = compile_features(loaded)
    assert transform is not None
    rows = typed_frame.drop(columns=["churned"])
    expected = _dense(loaded.transform_features(rows)).astype("float64")
    found = _dense(transform(_features(loaded, rows)))
    np.testing.assert_allclose(found, expected, rtol=1e-12, equal_nan=True)


def test_text_columns_keep_the_pipeline(tmp_path) -> None:
    words = ["the quick brown fox jumps over the lazy dog again and again", "lorem ipsum dolor"]
    frame = pd.DataFrame(
        {
            "review": [f"{words[i % 2]} number {i} with some more words" for i in range(60)],
            "stars": [i % 5 for i in range(60)],
            "label": ["good" if i % 2 else "bad" for i in range(60)],
        }
    )
    loaded = modelyard.load(_package(frame, "label", "sklearn.linear", tmp_path / "text"))
    assert loaded.schema_.columns["review"] == "text"
    assert compile_features(loaded) is None


@pytest.mark.parametrize("target", ["species", "body_mass_g"])
def test_linear_estimators_answer_as_scikit_learn_does(penguins, tmp_path, target: str) -> None:
    loaded = modelyard.load(_package(penguins, target, "sklearn.linear", tmp_path / "pkg"))
    transform = compile_features(loaded)
    linear = compile_estimator(loaded)
    assert transform is not None and linear is not None
    features = transform(_features(loaded, penguins.drop(columns=[target])))
    estimator = loaded.estimator_
    np.testing.assert_allclose(linear.predict(features), estimator.predict(features), rtol=1e-12)
    if target == "species":
        np.testing.assert_allclose(
            linear.predict_proba(features), estimator.predict_proba(features), rtol=1e-9
        )


def test_other_estimators_keep_scikit_learn(penguins, tmp_path) -> None:
    loaded = modelyard.load(_package(penguins, "species", "sklearn.random_forest", tmp_path / "p"))
    assert compile_estimator(loaded) is None
