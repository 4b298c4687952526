"""``export_onnx``: table packages become ONNX models that take the raw columns, checked."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bench._tables import mixed_table
from modelyard.learn.model import Model
from modelyard.learn.preprocess import HIGH_CARDINALITY
from modelyard.package import save
from modelyard.scan import Verdict, scan

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")
pytest.importorskip("skl2onnx")
pytest.importorskip("onnxmltools")

from modelyard.convert import ConvertError, ParityError  # noqa: E402
from modelyard.convert.export import TOLERANCE, export_onnx  # noqa: E402
from modelyard.learn.backends.onnx import OnnxModel  # noqa: E402

EXPORTED = [
    "lightgbm",
    "xgboost",
    "sklearn.linear",
    "sklearn.random_forest",
    "sklearn.hist_gradient_boosting",
    "sklearn.knn",
    "sklearn.extra_trees",
    "sklearn.mlp",
    "keras.mlp",
]


@pytest.mark.parametrize("name", EXPORTED)
def test_a_classifier_exports_with_its_preprocessing(tmp_path, penguins, name):
    features = penguins.drop(columns=["species"])
    model = Model(model=name, seed=1).fit(features, penguins["species"])
    package = save(model, tmp_path / "pkg")

    result = export_onnx(package, tmp_path / "model.onnx", data=features)

    assert result.labels_identical and result.max_difference <= TOLERANCE
    assert (result.rows, result.sample) == (200, "data")
    exported = onnx.load(result.path)
    assert [value.name for value in exported.graph.input] == list(model.schema_.columns)
    assert all(opset.version <= 15 for opset in exported.opset_import if opset.domain == "")
    runner = OnnxModel(result.path.read_bytes(), "classification")
    outputs = runner.outputs(features)  # the raw rows: missing values, strings
    np.testing.assert_array_equal(outputs["label"], model.predict(features))
    np.testing.assert_allclose(
        outputs["probabilities"], model.predict_proba(features), atol=TOLERANCE
    )
    assert scan(result.path).verdict is Verdict.SAFE


@pytest.mark.parametrize(
    "name",
    [
        "lightgbm",
        "xgboost",
        "sklearn.hist_gradient_boosting",
        "sklearn.knn",
        "sklearn.extra_trees",
        "sklearn.mlp",
        "sklearn.svm",
        "keras.mlp",
    ],
)
def test_a_regressor_exports_checked_on_drawn_rows(tmp_path, diabetes, name):
    X, y = diabetes.drop(columns=["target"]), diabetes["target"]
    package = save(Model(model=name, seed=1).fit(X, y), tmp_path / "pkg")

    result = export_onnx(package, tmp_path / "model.onnx")

    assert (result.rows, result.sample) == (200, "synthetic")
    assert result.max_difference <= TOLERANCE
    runner = OnnxModel(result.path.read_bytes(), "regression")
    np.testing.assert_allclose(
        runner.predict(X), Model(model=name, seed=1).fit(X, y).predict(X), rtol=1e-5
    )


def test_a_bayesian_regression_exports_as_its_posterior_mean(tmp_path, diabetes):
    pytest.importorskip("pymc")
    X, y = diabetes.drop(columns=["target"]).iloc[:150], diabetes["target"].iloc[:150]
    model = Model(model="pymc.linear", seed=1).fit(X, y, inference="advi")
    package = save(model, tmp_path / "pkg")

    result = export_onnx(package, tmp_path / "model.onnx", data=X)

    assert result.max_difference <= TOLERANCE
    runner = OnnxModel(result.path.read_bytes(), "regression")
    np.testing.assert_allclose(runner.predict(X), model.predict(X), rtol=1e-5)


def test_a_bayesian_classifier_exports_its_posterior_mean_probabilities(tmp_path, penguins):
    """Probabilities average the softmax over every draw, as the package computes them."""
    pytest.importorskip("pymc")
    sample = penguins.sample(120, random_state=0)
    features = sample.drop(columns=["species"])
    model = Model(model="pymc.logistic", seed=1).fit(features, sample["species"], inference="advi")
    package = save(model, tmp_path / "pkg")

    result = export_onnx(package, tmp_path / "model.onnx", data=features)

    assert result.labels_identical and result.max_difference <= TOLERANCE
    outputs = OnnxModel(result.path.read_bytes(), "classification").outputs(features)
    assert list(np.asarray(outputs["label"]).ravel()) == list(model.predict(features))
    np.testing.assert_allclose(
        outputs["probabilities"], model.predict_proba(features), atol=TOLERANCE
    )


def test_a_failed_check_writes_nothing(tmp_path, penguins):
    features = penguins.drop(columns=["species"])
    # Float32 inputs keep about 7 digits: grams past a billion lose the ones that differ.
    features["body_mass_g"] += 1e9
    model = Model(model="sklearn.linear").fit(features, penguins["species"])
    package = save(model, tmp_path / "p")
    with pytest.raises(ParityError, match=r"disagrees with .*nothing was written"):
        export_onnx(package, tmp_path / "model.onnx", data=features)
    assert not (tmp_path / "model.onnx").exists()


@pytest.mark.parametrize("classes", [["Adelie", "other"], [0, 1, 2]])
def test_boosted_trees_and_neighbours_classify_in_double_precision(tmp_path, penguins, classes):
    """Binary and integer labels; the inputs are doubles, so distances and thresholds match."""
    features = penguins.drop(columns=["species"])
    codes = penguins["species"].map({"Adelie": 0, "Chinstrap": 1, "Gentoo": 2})
    target = codes.map(lambda code: classes[min(code, len(classes) - 1)])
    for name in ("sklearn.hist_gradient_boosting", "sklearn.knn"):
        model = Model(model=name, seed=1).fit(features, target)
        result = export_onnx(save(model, tmp_path / name), tmp_path / f"{name}.onnx")
        assert result.labels_identical and result.max_difference <= TOLERANCE
        exported = onnx.load(result.path)
        numbers = [value for value in exported.graph.input if value.name == "bill_length_mm"]
        assert numbers[0].type.tensor_type.elem_type == onnx.TensorProto.DOUBLE


@pytest.mark.parametrize("name", ["lightgbm", "sklearn.random_forest"])
def test_boolean_labels_come_out_as_their_names(tmp_path, penguins, name):
    features = penguins.drop(columns=["species"])
    model = Model(model=name, seed=1).fit(features, penguins["species"] == "Adelie")

    result = export_onnx(save(model, tmp_path / "p"), tmp_path / "model.onnx", data=features)

    assert result.labels_identical and result.max_difference <= TOLERANCE
    labels = OnnxModel(result.path.read_bytes(), "classification").predict(features)
    assert list(labels) == [str(label) for label in model.predict(features)]


def _arrays(kind: str) -> tuple[np.ndarray, np.ndarray]:
    """Images (8x8 digits), sequences (12 steps) or sequences of 3 features, and targets."""
    from sklearn.datasets import load_digits

    if kind == "images":
        digits = load_digits()
        return digits.images[:150].astype("float32"), digits.target[:150]
    rng = np.random.default_rng(0)
    shape = (120, 12, 3) if kind == "features" else (120, 12)
    X = rng.normal(size=shape).astype("float32")
    totals = X.reshape(len(X), -1).sum(axis=1)
    return X, (np.where(totals > 0, "up", "down") if kind == "features" else totals)


def _assert_runs_as_the_package(path: Path, model: Model, X: object) -> None:
    """The exported model at ``path`` predicts ``X`` as ``model`` does, and scans safe."""
    runner = OnnxModel(path.read_bytes(), model.task_)
    if model.task_ == "classification":
        np.testing.assert_array_equal(runner.predict(X), model.predict(X))
        np.testing.assert_allclose(runner.predict_proba(X), model.predict_proba(X), atol=TOLERANCE)
    else:
        # The export check compares values relative to max(1, |value|).
        np.testing.assert_allclose(
            runner.predict(X), model.predict(X), rtol=TOLERANCE, atol=TOLERANCE
        )
    assert scan(path).verdict is Verdict.SAFE


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("keras.cnn", "images"),
        ("keras.cnn", "sequences"),
        ("keras.rnn", "sequences"),
        ("keras.rnn", "features"),
    ],
)
def test_a_keras_array_package_exports_layer_by_layer(tmp_path, name, kind):
    X, y = _arrays(kind)
    model = Model(model=name, seed=1).fit(X, y)
    package = save(model, tmp_path / "pkg")

    drawn = export_onnx(package, tmp_path / "drawn.onnx")
    result = export_onnx(package, tmp_path / "model.onnx", data=X)

    for checked in (drawn, result):
        assert checked.labels_identical and checked.max_difference <= TOLERANCE
    assert (drawn.sample, result.sample, result.inputs) == ("synthetic", "data", ["X"])
    _assert_runs_as_the_package(result.path, model, X)


def test_a_keras_convolution_without_an_onnx_mapping_is_named(tmp_path):
    from modelyard.convert.export import to_onnx

    X, y = _arrays("images")
    model = Model(model="keras.cnn", seed=1).fit(X, y)
    convolution = next(
        layer for layer in model.estimator_.model_.layers if type(layer).__name__ == "Conv2D"
    )
    convolution.padding = "valid"
    with pytest.raises(
        ConvertError, match=rf"Keras layer '{convolution.name}' \(Conv2D, padding='valid'\)"
    ):
        to_onnx(model)


def _assert_exports_checked(tmp_path: Path, model: Model, rows: pd.DataFrame) -> None:
    """``model``'s package exports, checked on drawn rows and on ``rows``, and runs as it."""
    package = save(model, tmp_path / "pkg")

    drawn = export_onnx(package, tmp_path / "drawn.onnx")
    result = export_onnx(package, tmp_path / "model.onnx", data=rows)

    for checked in (drawn, result):
        assert checked.labels_identical and checked.max_difference <= TOLERANCE
    _assert_runs_as_the_package(result.path, model, rows)


# Words of several scripts and cases, with accents both composed and combining.
_WORDS = ["Été", "à", "LA", "mer", "près", "ÉCOLE", "école", "Straße", "naïve", "cafe\u0301"]
_WORDS += ["Ωμέγα", "καλή", "日本語", "テキスト", "x_1", "2024", "²³", "Ünïcödé"]


def _table(target: str, *, notes: bool = False) -> tuple[pd.DataFrame, pd.Series]:
    """Rows whose ``postcode`` has more than 50 levels and is sometimes missing, with free-text
    ``notes`` (ASCII and other words, enough of them for a sparse matrix) when ``notes``; a
    binary, three-class or number target."""
    frame = mixed_table(600, "regression" if target == "regression" else "classification")
    features = frame.drop(columns=["target"] if notes else ["notes", "target"])
    features.loc[features.index % 40 == 0, "postcode"] = None
    if notes:
        rng = np.random.default_rng(0)
        features["notes"] = [
            f"{text} {' '.join(rng.choice(_WORDS, 3))} mot{rng.integers(300)}é"
            for text in features["notes"]
        ]
    if target == "multiclass":
        regression = mixed_table(600, "regression")["target"]
        return features, pd.qcut(regression, 3, labels=["low", "mid", "high"]).astype(str)
    return features, frame["target"]


@pytest.mark.parametrize(
    ("target", "name"),
    [
        ("binary", "lightgbm"),
        ("binary", "sklearn.hist_gradient_boosting"),
        ("multiclass", "xgboost"),
        ("multiclass", "sklearn.random_forest"),
        ("multiclass", "lightgbm"),
        ("regression", "lightgbm"),
        ("regression", "xgboost"),
        ("regression", "sklearn.linear"),
        ("regression", "sklearn.knn"),
    ],
)
def test_target_encoded_columns_export_with_unseen_and_missing_categories(tmp_path, target, name):
    features, labels = _table(target)
    model = Model(model=name, seed=1).fit(features, labels)
    blocks = model.preprocessor_.named_steps["columns"].transformers_
    assert [names for block, _, names in blocks if block == HIGH_CARDINALITY] == [["postcode"]]
    rows = features.copy()
    rows.loc[rows.index % 7 == 1, "postcode"] = "never seen"
    rows.loc[rows.index % 7 == 2, "postcode"] = np.nan
    _assert_exports_checked(tmp_path, model, rows)


def test_a_target_encoded_column_with_empty_and_missing_values_is_refused(tmp_path):
    from modelyard.convert.export import to_onnx

    features, labels = _table("binary")
    features.loc[features.index % 40 == 1, "postcode"] = ""
    model = Model(model="lightgbm", seed=1).fit(features, labels)
    with pytest.raises(ConvertError, match="column 'postcode' has both empty and missing"):
        to_onnx(model)


@pytest.mark.parametrize(
    ("target", "name"),
    [
        ("binary", "lightgbm"),
        ("binary", "sklearn.hist_gradient_boosting"),
        ("multiclass", "xgboost"),
        ("multiclass", "sklearn.linear"),
        ("regression", "xgboost"),
        ("regression", "sklearn.knn"),
    ],
)
def test_text_columns_export_with_ascii_and_other_words(tmp_path, target, name):
    features, labels = _table(target, notes=True)
    model = Model(model=name, seed=1).fit(features, labels)
    assert str(model.schema_.columns["notes"]) == "text"
    rows = features.copy()
    rows.loc[rows.index % 7 == 1, "notes"] = "ÉTÉ À LA MER, ÜNÏCÖDÉ; mot7É!"
    rows.loc[rows.index % 7 == 2, "notes"] = np.nan
    rows.loc[rows.index % 7 == 3, "notes"] = ""
    _assert_exports_checked(tmp_path, model, rows)


def test_text_features_with_custom_settings_are_refused_by_name(tmp_path):
    from modelyard.convert.export import to_onnx

    features, labels = _table("binary", notes=True)
    model = Model(model="lightgbm", seed=1).fit(features, labels)
    vectorizer = model.preprocessor_.named_steps["columns"].named_transformers_["text_notes"]
    vectorizer.ngram_range = (1, 2)
    with pytest.raises(ConvertError, match=r"column 'notes' have custom settings \(ngram_range\)"):
        to_onnx(model)


def test_the_cli_reports_the_check(tmp_path, penguins):
    features = penguins.drop(columns=["species"])
    package = save(Model(model="lightgbm").fit(features, penguins["species"]), tmp_path / "p")
    modelyard = str(Path(sys.executable).with_name("modelyard"))
    done = subprocess.run(
        [modelyard, "export", str(package), "--format", "onnx", "--out", str(tmp_path / "m.onnx")],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    assert "checked on 200 synthetic rows: labels identical" in done.stdout
    assert "inputs: island, bill_length_mm" in done.stdout


def test_a_keras_layer_without_an_onnx_mapping_is_named(tmp_path, diabetes):
    keras = pytest.importorskip("keras")
    from modelyard.convert.export import to_onnx

    X, y = diabetes.drop(columns=["target"]), diabetes["target"]
    model = Model(model="keras.mlp", seed=1).fit(X, y)
    dense = next(layer for layer in model.estimator_.model_.layers if hasattr(layer, "kernel"))
    dense.activation = keras.activations.gelu
    with pytest.raises(
        ConvertError, match=rf"Keras layer '{dense.name}' \(Dense, activation gelu\)"
    ):
        to_onnx(model)


def test_columns_whose_names_onnx_sanitizes_are_found_by_their_names(tmp_path, penguins):
    features = penguins.drop(columns=["species"]).rename(
        columns={"bill_length_mm": "bill length (mm)", "island": "île/name"}
    )
    model = Model(model="sklearn.linear").fit(features, penguins["species"])

    result = export_onnx(save(model, tmp_path / "p"), tmp_path / "model.onnx", data=features)

    assert result.inputs == list(features.columns)
    names = [value.name for value in onnx.load(result.path).graph.input]
    assert names[:2] == ["île_name", "bill_length__mm_"]
    runner = OnnxModel(result.path.read_bytes(), "classification")
    assert runner.columns_ == list(features.columns)
    np.testing.assert_array_equal(runner.predict(features), model.predict(features))


@pytest.mark.parametrize("name", ["lightgbm", "sklearn.knn"])  # float and double precision
def test_a_package_saved_with_a_simple_imputer_still_exports(tmp_path, penguins, name):
    from sklearn.impute import SimpleImputer

    features = penguins.drop(columns=["species"])
    model = Model(model=name, seed=1).fit(features, penguins["species"])
    columns = model.preprocessor_.named_steps["columns"]
    blocks = {block: (fitted, names) for block, fitted, names in columns.transformers_}
    numeric, names = blocks["numeric"]
    coerced = model.preprocessor_.named_steps["coerce"].transform(features)[names]
    numeric.steps[0] = ("impute", SimpleImputer(strategy="mean").fit(coerced))
    package = save(model, tmp_path / "pkg")

    result = export_onnx(package, tmp_path / "model.onnx", data=features)

    assert result.labels_identical and result.max_difference <= TOLERANCE
