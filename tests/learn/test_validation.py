"""Arguments are checked before any work, with one message that lists the valid values."""

from __future__ import annotations

import re

import pytest

from modelyard.learn.api import compare, train
from modelyard.learn.errors import LearnError, UnknownModelError
from modelyard.learn.model import Model

TASK = "must be one of {'auto', 'classification', 'regression'}. Got 'x' instead."
SEED = "must be an int in [0, 4294967295]. Got -1 instead."


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
