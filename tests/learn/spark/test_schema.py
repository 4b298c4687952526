"""Sorting columns into kinds from the schema and one pass of statistics."""

from __future__ import annotations

import datetime

import pytest

from modelyard.learn.spark.errors import SparkDataError
from modelyard.learn.spark.schema import plan_features, plan_target

pytestmark = pytest.mark.spark


@pytest.fixture(scope="module")
def mixed(master: str) -> object:
    from modelyard.learn.spark import start

    rows = [
        (
            i,  # row number
            f"user-{i}",  # unique strings
            ["red", "green", "blue"][i % 3],
            float(i % 7) if i % 5 else None,
            i % 2 == 0,
            datetime.date(2024, 1 + i % 12, 1),
            "same",
            ["yes", "no"][i % 2],
        )
        for i in range(60)
    ]
    columns = ["row", "user", "colour", "size", "flag", "day", "constant", "answer"]
    return start(master).createDataFrame(rows, columns)


def test_columns_are_kept_or_dropped_with_a_reason(mixed: object) -> None:
    plan = plan_features(mixed, exclude=("answer",))

    kinds = {column.name: column.kind for column in plan.columns}
    assert kinds == {
        "colour": "categorical",
        "size": "numeric",
        "flag": "boolean",
        "day": "datetime",
    }
    assert plan.dropped == {
        "row": "row number (ID-like)",
        "user": "unique strings (ID-like)",
        "constant": "constant",
    }
    assert plan.rows == 60


def test_string_target_is_classification_with_sorted_classes(mixed: object) -> None:
    target = plan_target(mixed, "answer", "auto")

    assert (target.task, target.classes) == ("classification", ["no", "yes"])


def test_integer_target_with_many_values_is_regression(mixed: object) -> None:
    assert plan_target(mixed, "row", "auto").task == "regression"


def test_a_target_with_one_class_is_refused(mixed: object) -> None:
    with pytest.raises(SparkDataError, match="1 class; classification needs at least two"):
        plan_target(mixed, "constant", "auto")


def test_regression_on_strings_suggests_classification(mixed: object) -> None:
    with pytest.raises(SparkDataError, match="regression needs numbers"):
        plan_target(mixed, "colour", "regression")


def test_too_few_rows_are_refused(mixed: object) -> None:
    with pytest.raises(SparkDataError, match="5 rows"):
        plan_features(mixed.limit(5))
