"""Bayesian models on PyMC: calibrated intervals, recovered coefficients, packages without PyMC."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest

from modelyard.learn.api import predict, train
from modelyard.learn.backends.pymc import BayesianGLM
from modelyard.learn.errors import ConvergenceWarning, LearnError
from modelyard.learn.model import Model
from modelyard.package import load, save

pytest.importorskip("pymc")

COEF = np.array([1.5, -2.0, 0.5])
INTERCEPT, NOISE = 0.7, 0.8


def linear_table(rows: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Three numbers and a category with a known effect, plus Normal noise."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(rows, 3)), columns=["a", "b", "c"])
    X["colour"] = rng.choice(["red", "green", "blue"], rows)
    y = INTERCEPT + X[["a", "b", "c"]].to_numpy() @ COEF + (X["colour"] == "red") * 1.0
    return X, y.to_numpy() + rng.normal(scale=NOISE, size=rows)


def class_table(rows: int, classes: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Labels drawn from a softmax over linear scores of four numbers."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(rows, 4)), columns=["a", "b", "c", "d"])
    weights = rng.normal(scale=1.5, size=(4, classes))
    scores = X.to_numpy() @ weights
    probabilities = np.exp(scores) / np.exp(scores).sum(axis=1, keepdims=True)
    labels = np.array([rng.choice(classes, p=p) for p in probabilities])
    return X, np.array([f"class{label}" for label in labels])


@pytest.fixture(scope="module")
def regression() -> tuple[Model, pd.DataFrame, np.ndarray]:
    X, y = linear_table(800, seed=1)
    return Model("pymc.linear", seed=0).fit(X[:300], y[:300]), X[300:], y[300:]


def test_ninety_percent_intervals_cover_ninety_percent_of_held_out_targets(regression):
    model, X_test, y_test = regression
    lower, upper = model.predict_interval(X_test, 0.9)
    coverage = np.mean((y_test >= lower) & (y_test <= upper))
    assert 0.86 <= coverage <= 0.94
    assert np.all(lower < model.predict(X_test)) and np.all(model.predict(X_test) < upper)
    assert model.diagnostics["r_hat_max"] < 1.01 and model.diagnostics["ess_bulk_min"] > 400


def test_posterior_means_recover_the_coefficients_within_their_intervals():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(400, 3))
    y = INTERCEPT + X @ COEF + rng.normal(scale=NOISE, size=400)
    fitted = BayesianGLM(task="regression", draws=400, tune=400).fit(X, y)
    for draws, truth in (
        (fitted.coef_, COEF),
        (fitted.intercept_, INTERCEPT),
        (fitted.sigma_, NOISE),
    ):
        low, high = np.quantile(draws, [0.005, 0.995], axis=0)
        assert np.all((low <= truth) & (truth <= high))
        assert np.allclose(draws.mean(axis=0), truth, atol=0.1)


@pytest.mark.parametrize("classes", [2, 3])
def test_logistic_accuracy_matches_scikit_learns_logistic_regression(classes):
    X, y = class_table(1000, classes, seed=classes)
    bayes = Model("pymc.logistic", seed=0).fit(X[:500], y[:500])
    sklearn = Model("sklearn.linear").fit(X[:500], y[:500])
    assert abs(bayes.score(X[500:], y[500:]) - sklearn.score(X[500:], y[500:])) <= 0.01
    lower, upper = bayes.predict_interval(X[500:], 0.9)
    proba = bayes.predict_proba(X[500:])
    assert lower.shape == upper.shape == proba.shape == (500, classes)
    assert np.all((lower <= proba) & (proba <= upper))
    assert np.allclose(proba.sum(axis=1), 1)


def test_advi_is_an_option_and_seeds_make_fits_repeat():
    X, y = linear_table(200, seed=3)
    nuts = [Model("pymc.linear", seed=5).fit(X, y).predict(X) for _ in range(2)]
    advi = Model("pymc.linear", seed=5).fit(X, y, inference="advi")
    np.testing.assert_array_equal(nuts[0], nuts[1])
    assert advi.diagnostics == {}
    assert np.corrcoef(advi.predict(X), nuts[0])[0, 1] > 0.99


def test_too_few_draws_warn_that_the_chains_did_not_converge():
    X, y = linear_table(100, seed=4)
    with pytest.warns(ConvergenceWarning, match="r-hat"):
        BayesianGLM(task="regression", draws=15, tune=15, chains=2).fit(X[["a", "b", "c"]], y)


def test_other_models_refuse_intervals_and_inference_naming_those_that_have_them():
    X, y = linear_table(50, seed=5)
    ridge = Model("sklearn.linear").fit(X, y)
    with pytest.raises(LearnError, match="no prediction intervals") as refused:
        ridge.predict_interval(X, 0.9)
    assert "pymc.linear" in refused.value.hint
    with pytest.raises(LearnError, match="no choice of inference"):
        Model("sklearn.linear").fit(X, y, inference="advi")


def test_package_predicts_identically_where_pymc_cannot_be_imported(regression, tmp_path):
    model, X_test, _ = regression
    package = save(model, tmp_path / "pkg", target="y")
    card = (package / "README.md").read_text()
    assert "r-hat (largest)" in card and "effective sample size" in card
    assert json.loads((package / "modelyard.json").read_text())["diagnostics"]["r_hat_max"] < 1.01
    X_test.to_csv(tmp_path / "rows.csv", index=False)
    code = textwrap.dedent(
        f"""
        import sys
        sys.modules["pymc"] = sys.modules["pytensor"] = None  # importing either now fails
        import numpy as np, pandas as pd
        from modelyard.package import load
        model = load({str(package)!r})
        rows = pd.read_csv({str(tmp_path / "rows.csv")!r})
        predicted = [model.predict(rows), *model.predict_interval(rows, 0.9)]
        np.save({str(tmp_path / "out.npy")!r}, predicted)
        assert sys.modules["pymc"] is None and sys.modules["pytensor"] is None
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    rows = pd.read_csv(tmp_path / "rows.csv")
    expected = [model.predict(rows), *model.predict_interval(rows, 0.9)]
    np.testing.assert_array_equal(np.load(tmp_path / "out.npy"), expected)
    np.testing.assert_array_equal(load(package).predict(X_test), model.predict(X_test))


def test_predict_adds_interval_columns_named_after_the_target(tmp_path):
    X, y = linear_table(200, seed=6)
    X.assign(y=y).to_csv(tmp_path / "reg.csv", index=False)
    train(tmp_path / "reg.csv", "y", model="pymc.linear", out=tmp_path / "reg", inference="advi")
    frame = predict(tmp_path / "reg", tmp_path / "reg.csv", interval=0.9)
    assert list(frame.columns) == ["y", "y_lower", "y_upper"]
    assert np.all(frame["y_lower"] < frame["y"]) and np.all(frame["y"] < frame["y_upper"])

    X, labels = class_table(200, 2, seed=6)
    X.assign(label=labels).to_csv(tmp_path / "cls.csv", index=False)
    train(tmp_path / "cls.csv", "label", model="pymc.logistic", out=tmp_path / "cls")
    frame = predict(tmp_path / "cls", tmp_path / "cls.csv", proba=True, interval=0.8)
    assert list(frame.columns)[3:] == [
        "proba_class0_lower", "proba_class0_upper", "proba_class1_lower", "proba_class1_upper",
    ]  # fmt: skip
    # The point is the posterior mean, which a skewed posterior may put outside the interval;
    # the bounds are quantiles, so a wider interval contains a narrower one.
    wider = predict(tmp_path / "cls", tmp_path / "cls.csv", proba=True, interval=0.95)
    for name in ("proba_class0", "proba_class1"):
        assert np.all(frame[f"{name}_lower"] <= frame[f"{name}_upper"])
        assert np.all(wider[f"{name}_lower"] <= frame[f"{name}_lower"])
        assert np.all(frame[f"{name}_upper"] <= wider[f"{name}_upper"])
    with pytest.raises(LearnError, match="probabilities"):
        predict(tmp_path / "cls", tmp_path / "cls.csv", interval=0.8)
    with pytest.raises(LearnError, match="'interval' parameter of predict"):
        predict(tmp_path / "cls", tmp_path / "cls.csv", proba=True, interval=90)
