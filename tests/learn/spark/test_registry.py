"""Every registered Spark model, through the whole path: train, package, predict, evaluate."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelyard.learn.backends.spark import MODELS, get, runnable
from modelyard.learn.spark import evaluate, predict, train
from modelyard.learn.spark.errors import SparkModelError

pytestmark = pytest.mark.spark

# Fewer iterations than the defaults: the point is the path, not the fit.
QUICK = {
    "spark.logistic": {"maxIter": 20},
    "spark.linear": {"maxIter": 20},
    "spark.random_forest": {"numTrees": 5},
    "spark.gbt": {"maxIter": 3},
    "spark.xgboost": {"n_estimators": 5},
    "spark.kmeans": {"maxIter": 5},
}

CASES = [(name, task) for name, model in MODELS.items() for task in model.tasks]


def test_every_model_has_a_quick_setting() -> None:
    assert set(QUICK) == set(MODELS)


# About ten seconds a case on two cores: run in CI (-m slow); the default run covers the path
# through the other modules' tests.
@pytest.mark.slow
@pytest.mark.parametrize(("name", "task"), CASES, ids=[f"{n}-{t}" for n, t in CASES])
def test_model_trains_saves_predicts_and_evaluates(
    name: str, task: str, master: str, penguins_csv: Path, diabetes_parquet: Path, tmp_path: Path
) -> None:
    data, target, expected = {
        # Two classes so that every classifier, binary-only GBT included, takes it.
        "classification": (str(penguins_csv), "sex", {"accuracy", "f1", "roc_auc"}),
        "regression": (str(diabetes_parquet), "target", {"rmse", "mae", "r2"}),
        "clustering": (str(penguins_csv), None, {"silhouette"}),
    }[task]
    package = tmp_path / "package"

    result = train(data, target=target, model=name, master=master, out=package, params=QUICK[name])

    assert (result.model, result.task) == (name, task)
    assert set(result.metrics) == expected
    predictions = predict(package, data, master=master, out=str(tmp_path / "predictions.parquet"))
    column = target or "cluster"
    assert column in predictions.columns
    assert predictions.where(predictions[column].isNull()).count() == 0
    assert set(evaluate(package, data, master=master)) == expected


def test_classifiers_beat_chance_on_penguin_sex(master: str, penguins_csv: Path) -> None:
    result = train(str(penguins_csv), target="sex", model="spark.logistic", master=master)

    assert result.metrics["accuracy"] > 0.8


def test_gbt_refuses_more_than_two_classes_before_training(master: str, penguins_csv: Path) -> None:
    with pytest.raises(SparkModelError, match="at most 2 classes"):
        train(str(penguins_csv), target="species", model="spark.gbt", master=master)


def test_unknown_model_lists_the_choices() -> None:
    with pytest.raises(SparkModelError, match=r"spark\.xgboost"):
        get("spark.nope")


def test_unknown_parameter_lists_the_estimators_parameters(master: str, penguins_csv: Path) -> None:
    with pytest.raises(SparkModelError, match="maxIter"):
        train(
            str(penguins_csv),
            target="sex",
            model="spark.logistic",
            master=master,
            params={"trees": 3},
        )


def test_runnable_leaves_out_what_cannot_run_here() -> None:
    multiclass = {model.name for model in runnable("classification", 3)}
    remote = {model.name for model in runnable("regression", over_connect=True)}

    assert multiclass == {"spark.logistic", "spark.random_forest", "spark.xgboost"}
    assert remote == {"spark.linear", "spark.random_forest", "spark.gbt"}
    assert [model.name for model in runnable("clustering")] == ["spark.kmeans"]
