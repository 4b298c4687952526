"""train and compare on Spark: hold-out metrics, dropped columns, leaderboard, errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from modelyard.learn.spark import compare, train
from modelyard.learn.spark.errors import SparkDataError

pytestmark = pytest.mark.spark


@pytest.fixture(scope="module")
def with_row_numbers(tmp_path_factory: pytest.TempPathFactory, penguins_csv: Path) -> Path:
    import pandas as pd

    frame = pd.read_csv(penguins_csv)
    frame.insert(0, "row_id", range(1, len(frame) + 1))
    path = tmp_path_factory.mktemp("data") / "numbered.parquet"
    frame.to_parquet(path)
    return path


def test_train_reports_dropped_columns_and_writes_a_package(
    master: str, with_row_numbers: Path, tmp_path: Path
) -> None:
    result = train(
        str(with_row_numbers),
        target="species",
        model="spark.logistic",
        master=master,
        out=tmp_path / "package",
        params={"maxIter": 20},
    )

    assert result.dropped == {"row_id": "row number (ID-like)"}
    assert result.classes == ["Adelie", "Chinstrap", "Gentoo"]
    assert result.to_dict() == {
        "model": "spark.logistic",
        "backend": "spark",
        "task": "classification",
        "metrics": result.metrics,
        "package": str(tmp_path / "package"),
    }
    manifest = json.loads((tmp_path / "package" / "modelyard.json").read_text())
    assert manifest["framework"] == "spark"
    assert result.evaluation is not None and result.evaluation.rows == 344
    assert manifest["evaluation"]["refitted"] is True
    summary = manifest["evaluation"]["summary"]
    assert summary.endswith("final model refitted on all 344 rows.")
    assert summary in (tmp_path / "package" / "README.md").read_text()
    assert manifest["classes"] == result.classes
    assert [c["name"] for c in manifest["input_signature"]] == [
        "island",
        "bill_length_mm",
        "bill_depth_mm",
        "flipper_length_mm",
        "body_mass_g",
        "sex",
        "year",
    ]


def test_compare_ranks_candidates_best_first(master: str, penguins_csv: Path) -> None:
    board = compare(
        str(penguins_csv),
        target="sex",
        models=["spark.logistic", "spark.random_forest"],
        cv=2,
        master=master,
    )

    assert (board.task, board.metric) == ("classification", "accuracy")
    assert sorted(entry.model for entry in board.leaderboard) == [
        "spark.logistic",
        "spark.random_forest",
    ]
    scores = [entry.score for entry in board.leaderboard]
    assert scores == sorted(scores, reverse=True)
    assert all(0.5 < entry.score <= 1 and entry.fit_seconds > 0 for entry in board.leaderboard)
    assert set(board.to_dict()["leaderboard"][0]) == {
        "model",
        "backend",
        "score",
        "std",
        "fit_seconds",
    }


def test_compare_stops_starting_candidates_after_the_time_budget(
    master: str, diabetes_parquet: Path
) -> None:
    done: list[str] = []

    board = compare(
        str(diabetes_parquet),
        target="target",
        models=["spark.linear", "spark.random_forest"],
        cv=2,
        time_budget=0,
        master=master,
        progress=lambda i, total, name: done.append(name),
    )

    assert [entry.model for entry in board.leaderboard] == ["spark.linear"] == done


def test_a_missing_target_names_it_and_lists_the_columns(master: str, penguins_csv: Path) -> None:
    with pytest.raises(SparkDataError, match=r"no column 'kind'.*species, island"):
        train(str(penguins_csv), target="kind", master=master)


def test_supervised_models_need_a_target(master: str, penguins_csv: Path) -> None:
    with pytest.raises(SparkDataError, match="--target"):
        train(str(penguins_csv), model="spark.logistic", master=master)


def test_compare_needs_two_folds(master: str, penguins_csv: Path) -> None:
    with pytest.raises(SparkDataError, match="at least 2 folds"):
        compare(str(penguins_csv), target="sex", cv=1, master=master)
