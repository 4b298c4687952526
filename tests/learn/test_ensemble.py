"""Greedy ensemble selection, and ensemble packages through load, predict, evaluate and serve."""

from __future__ import annotations

import numpy as np
import pytest

from modelyard.learn.api import compare, evaluate, predict
from modelyard.learn.ensemble import greedy_selection
from modelyard.learn.errors import LearnError
from modelyard.learn.model import Model
from modelyard.package import load
from modelyard.serve.model import load_served


def test_greedy_selection_mixes_models_that_err_on_different_rows():
    truth = np.array([1.0, 2.0, 3.0, 4.0])
    error = np.array([1.0, 0.0, 1.0, 0.0])
    low, high = truth - error, truth + error
    weights = greedy_selection([low, high], lambda blend: (-float(np.abs(blend - truth).sum()),))
    assert weights == [0.5, 0.5]


def test_greedy_selection_keeps_the_best_round():
    truth = np.zeros(3)
    good, bad = np.zeros(3), np.ones(3)
    assert greedy_selection([bad, good], lambda blend: (-float(np.abs(blend - truth).sum()),)) == [
        0.0,
        1.0,
    ]


@pytest.fixture(scope="module")
def ensemble_package(tmp_path_factory, penguins):
    folder = tmp_path_factory.mktemp("ensemble")
    data = folder / "penguins.csv"
    penguins.to_csv(data, index=False)
    board = compare(
        data,
        "species",
        models=["sklearn.knn", "sklearn.tree", "sklearn.linear"],
        cv=3,
        time_budget=8,
        out=folder / "pkg",
    )
    return board, data, folder / "pkg"


def test_compare_saves_the_winner_as_a_package_of_members(ensemble_package, penguins):
    board, data, package = ensemble_package
    assert board.package == package
    model = load(package)
    assert model.model == "ensemble" and model.task_ == "classification"
    members = model.estimator_.members
    assert len(members) % 3 == 0 and sum(model.estimator_.weights) == pytest.approx(1)
    assert (
        not list(package.rglob("*.pkl"))
        and (package / "members" / "00" / "modelyard.json").is_file()
    )
    features = penguins.drop(columns=["species"])
    proba = model.predict_proba(features)
    np.testing.assert_allclose(proba.sum(axis=1), 1)
    assert set(model.predict(features)) <= {"Adelie", "Chinstrap", "Gentoo"}
    assert evaluate(package, data)["accuracy"] > 0.9
    frame = predict(package, data, proba=True)
    assert list(frame.columns) == ["species", "proba_Adelie", "proba_Chinstrap", "proba_Gentoo"]
    assert model.manifest_.metrics["accuracy"] > 0.9  # out-of-fold


def test_an_ensemble_package_serves(ensemble_package, penguins):
    _, _, package = ensemble_package
    served = load_served(package)
    columns = {name: penguins[name].head(3).tolist() for name in served.feature_names}
    prediction = served.predict([served.table_rows(columns, max_rows=10)], proba=True)
    assert len(prediction.labels) == 3 and prediction.proba.shape == (3, 3)
    assert served.metadata().parameters["model"] == "ensemble"


def test_an_ensemble_is_not_trained_directly(penguins):
    with pytest.raises(LearnError, match="built by compare"):
        Model("ensemble").fit(penguins.drop(columns=["species"]), penguins["species"])
