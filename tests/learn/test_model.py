"""``Model`` over the whole registry: fit, predict, save, load, and raw rows at predict time."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bench._tables import mixed_table
from modelyard.data.errors import MissingColumnError, UnparsedValuesWarning
from modelyard.learn.model import Model
from modelyard.learn.models import all_specs
from modelyard.learn.preprocess import HIGH_CARDINALITY
from modelyard.package import load, save

TABLE_SPECS = [spec for spec in all_specs() if spec.data == "table" and spec.trainable]
TABLE_MODELS = [spec.name for spec in TABLE_SPECS]


@pytest.mark.parametrize("spec", TABLE_SPECS, ids=TABLE_MODELS)
def test_every_model_round_trips_through_a_package(tmp_path, penguins, diabetes, spec):
    """Each task the model does (most do both; pymc.linear regression, pymc.logistic classes)."""
    name = spec.name
    if "classification" in spec.tasks:
        _round_trips_a_classifier(tmp_path, penguins, name)
    if "regression" in spec.tasks:
        _round_trips_a_regressor(tmp_path, diabetes, name)


def _round_trips_a_classifier(tmp_path, penguins, name):
    features = penguins.drop(columns=["species"])
    classifier = Model(model=name, seed=1).fit(features, penguins["species"])
    assert set(classifier.classes_) == {"Adelie", "Chinstrap", "Gentoo"}
    assert classifier.score(features, penguins["species"]) > 0.8
    loaded = load(save(classifier, tmp_path / "cls", target="species"))
    np.testing.assert_array_equal(loaded.predict(features), classifier.predict(features))
    np.testing.assert_allclose(
        loaded.predict_proba(features), classifier.predict_proba(features), rtol=1e-5, atol=1e-6
    )


def _round_trips_a_regressor(tmp_path, diabetes, name):
    X, y = diabetes.drop(columns=["target"]), diabetes["target"]
    regressor = Model(model=name, seed=1).fit(X, y)
    assert regressor.task_ == "regression"
    loaded = load(save(regressor, tmp_path / "reg", target="target"))
    np.testing.assert_allclose(loaded.predict(X), regressor.predict(X), rtol=1e-5)


@pytest.mark.parametrize("name", ["sklearn.mlp", "sklearn.svm"])
def test_a_regressor_with_penalties_learns_a_target_in_any_units(diabetes, name):
    """Fitted to the standardised target, its score does not depend on the target's scale."""
    X, y = diabetes.drop(columns=["target"]), diabetes["target"]
    scores = [
        Model(model=name, seed=0).fit(X, y * scale).score(X, y * scale)
        for scale in (1e-3, 1.0, 1e3)
    ]
    assert min(scores) > 0.4
    np.testing.assert_allclose(scores, scores[1], atol=0.02)


def test_raw_rows_at_predict_time(penguins):
    features = penguins.drop(columns=["species"])
    model = Model(model="lightgbm").fit(features, penguins["species"])
    new = features.head(4).copy()
    new.loc[new.index[0], "island"] = "Atlantis"  # unseen category
    new.loc[new.index[1], "bill_length_mm"] = np.nan  # missing value
    new["extra"] = 1  # a column the model never saw
    new = new[list(reversed(new.columns))]  # reordered
    assert len(model.predict(new)) == 4
    with pytest.raises(MissingColumnError, match="island"):
        model.predict(features.drop(columns=["island"]))


def test_string_targets_are_decoded_and_seed_repeats(penguins):
    features, target = penguins.drop(columns=["species"]), penguins["species"]
    first = Model(model="sklearn.random_forest", seed=3).fit(features, target)
    second = Model(model="sklearn.random_forest", seed=3).fit(features, target)
    assert first.predict(features).dtype.kind in "UO"
    np.testing.assert_array_equal(first.predict_proba(features), second.predict_proba(features))


def test_sparse_input_stays_sparse():
    import scipy.sparse
    from sklearn.datasets import load_iris

    X, y = load_iris(return_X_y=True)
    sparse = scipy.sparse.csr_matrix(X)
    model = Model(model="sklearn.linear").fit(sparse, y)
    assert model.input_kind_ == "sparse"
    assert model.score(sparse, y) > 0.9


def test_scikit_learn_contract():
    from sklearn.base import clone
    from sklearn.model_selection import cross_val_score

    model = Model(model="sklearn.linear", task="classification", seed=4)
    assert clone(model).get_params() == {"model": "sklearn.linear", "task": "classification",
                                         "seed": 4, "params": None}  # fmt: skip
    X = pd.DataFrame(np.random.default_rng(0).normal(size=(60, 3)), columns=list("abc"))
    y = (X["a"] > 0).astype(int)
    assert cross_val_score(model, X, y, cv=3).mean() > 0.8
    model.set_params(model="sklearn.tree")
    assert model.fit(X, y).predict(X).shape == (60,)


# Checks that test input validation modelyard does differently on purpose: object columns of
# arbitrary Python objects are categories here, and sparse input of a table model is kept
# sparse where scikit-learn's check expects one specific error message.
KNOWN_DIFFERENCES = {
    "check_dtype_object",
    "check_estimator_sparse_array",
    "check_estimator_sparse_matrix",
}


@pytest.mark.parametrize(
    ("name", "task"),
    [("sklearn.tree", "classification"), ("lightgbm", "regression"), ("sklearn.linear", "auto")],
)
def test_check_estimator(name, task):
    import warnings

    from sklearn.utils.estimator_checks import check_estimator

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = check_estimator(Model(model=name, task=task), on_fail=None)
    failed = {result["check_name"] for result in results if result["status"] == "failed"}
    assert failed <= KNOWN_DIFFERENCES, failed
    assert len(results) > 35


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_many_levels_are_target_encoded_and_notes_get_text_features(tmp_path, task):
    frame = mixed_table(1000, task)
    features, target = frame.drop(columns=["target"]), frame["target"]
    model = Model(seed=3).fit(features, target)
    assert set(model.dropped_columns) == {"name", "ticket"}
    blocks = {name: columns for name, _, columns in model.preprocessor_[-1].transformers_}
    assert blocks[HIGH_CARDINALITY] == ["postcode"] and blocks["categorical"] == ["segment"]
    assert "text_notes" in blocks
    # the postcode is one column per class (one for regression), not one per level
    width = model.transform_features(features.head()).shape[1]
    assert width < 60
    loaded = load(save(model, tmp_path / "pkg", target="target"))
    np.testing.assert_allclose(loaded.predict(features), model.predict(features))
    assert Model(seed=3).fit(features, target).predict(features).tolist() == (
        model.predict(features).tolist()
    )  # the encoder's folds follow the seed


def test_text_in_a_numeric_column_warns_with_the_column_and_count(penguins):
    features = penguins.drop(columns=["species"])
    model = Model(model="sklearn.linear").fit(features, penguins["species"])
    new = features.astype({"bill_depth_mm": object})
    new.loc[:1, "bill_depth_mm"] = ["n/a", "deep"]
    with pytest.warns(UnparsedValuesWarning, match=r"column 'bill_depth_mm': 2 value\(s\)"):
        assert len(model.predict(new)) == len(new)
