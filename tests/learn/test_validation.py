"""Arguments are checked before any work, with one message that lists the valid values."""

from __future__ import annotations

import re

import pytest

from modelyard.learn.api import compare, evaluate, predict, train
from modelyard.learn.errors import LearnError, UnknownModelError
from modelyard.learn.model import Model

TASK = "must be one of {'auto', 'classification', 'regression'}. Got 'x' instead."
SEED = "must be an int in [0, 4294967295]. Got -1 instead."
ENGINE = "must be one of {'local', 'spark'}. Got 'gpu' instead."


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"task": "x"}, f"The 'task' parameter of Model {TASK}"),
        ({"seed": -1}, f"The 'seed' parameter of Model {SEED}"),
        ({"seed": 1.5}, "The 'seed' parameter of Model must be an int in [0, 4294967295]. Got 1.5"),
    ],
)
def test_model_checks_its_parameters_before_touching_the_data(params, message):
    with pytest.raises(LearnError, match=re.escape(message)):
        Model(**params).fit("not data", None)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"task": "x"}, f"The 'task' parameter of train {TASK}"),
        ({"task": "clustering"}, "The 'task' parameter of train must be one of {'auto', "),
        ({"engine": "gpu"}, f"The 'engine' parameter of train {ENGINE}"),
        ({"seed": -1}, f"The 'seed' parameter of train {SEED}"),
        (
            {"test_size": 1.5},
            "The 'test_size' parameter of train must be a float in (0, 1). Got 1.5 instead.",
        ),
    ],
)
def test_train_checks_its_arguments_before_reading_the_data(tmp_path, params, message):
    with pytest.raises(LearnError, match=re.escape(message)):
        train(tmp_path / "missing.csv", "t", **params)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"cv": 1}, "The 'cv' parameter of compare must be an int in [2, inf). Got 1 instead."),
        ({"cv": True}, "The 'cv' parameter of compare must be an int in [2, inf). Got True"),
        (
            {"time_budget": -1},
            "The 'time_budget' parameter of compare must be a float in [0, inf) or None. "
            "Got -1 instead.",
        ),
        ({"task": "x"}, f"The 'task' parameter of compare {TASK}"),
        ({"task": "x", "engine": "spark"}, "parameter of compare must be one of {'auto', 'cl"),
        ({"engine": "gpu"}, f"The 'engine' parameter of compare {ENGINE}"),
        ({"seed": -1}, f"The 'seed' parameter of compare {SEED}"),
    ],
)
def test_compare_checks_its_arguments_before_reading_the_data(tmp_path, params, message):
    with pytest.raises(LearnError, match=re.escape(message)):
        compare(tmp_path / "missing.csv", "t", **params)


def test_unknown_model_names_win_over_a_missing_file(tmp_path):
    with pytest.raises(UnknownModelError, match="lightgbm"):
        train(tmp_path / "missing.csv", "t", model="gpt")
    with pytest.raises(UnknownModelError, match="lightgbm"):
        compare(tmp_path / "missing.csv", "t", models=["gpt"])


def test_clustering_points_to_the_spark_engine(tmp_path):
    with pytest.raises(LearnError) as caught:
        train(tmp_path / "missing.csv", "t", task="clustering")
    assert caught.value.hint == "clustering runs on the Spark engine: pass engine='spark'"


@pytest.mark.parametrize("job", [predict, evaluate])
def test_predict_and_evaluate_check_the_engine_before_reading_the_package(tmp_path, job):
    message = f"The 'engine' parameter of {job.__name__} {ENGINE}"
    with pytest.raises(LearnError, match=re.escape(message)):
        job(tmp_path / "missing", tmp_path / "missing.csv", engine="gpu")
