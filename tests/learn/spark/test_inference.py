"""predict and evaluate through Spark on raw rows the model never saw."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelyard.learn.spark import evaluate, predict, start, train
from modelyard.learn.spark.errors import SparkDataError

pytestmark = pytest.mark.spark


@pytest.fixture(scope="module")
def species_package(
    master: str, penguins_csv: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    package = tmp_path_factory.mktemp("packages") / "species"
    train(
        str(penguins_csv),
        target="species",
        model="spark.random_forest",
        master=master,
        out=package,
        params={"numTrees": 10},
    )
    return package


@pytest.fixture(scope="module")
def awkward_rows(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Reordered and extra columns, an unseen island, missing values, no target."""
    import pandas as pd

    frame = pd.DataFrame(
        {
            "year": [2008, 2009, None],
            "note": ["extra", "columns", "are ignored"],
            "sex": ["male", None, "female"],
            "island": ["Atlantis", "Biscoe", "Dream"],
            "body_mass_g": [4000.0, None, 3500.0],
            "flipper_length_mm": [200.0, 215.0, None],
            "bill_depth_mm": [None, 15.0, 18.0],
            "bill_length_mm": [40.0, 48.0, None],
        }
    )
    path = tmp_path_factory.mktemp("data") / "awkward.csv"
    frame.to_csv(path, index=False)
    return path


def test_raw_rows_get_a_prediction_each(
    master: str, species_package: Path, awkward_rows: Path
) -> None:
    predictions = predict(species_package, str(awkward_rows), proba=True, master=master)

    rows = predictions.orderBy("note").collect()  # three rows: a test may look at them all
    assert [row["note"] for row in rows] == ["are ignored", "columns", "extra"]
    assert all(row["species"] in ("Adelie", "Chinstrap", "Gentoo") for row in rows)
    for row in rows:
        total = row["proba_Adelie"] + row["proba_Chinstrap"] + row["proba_Gentoo"]
        assert total == pytest.approx(1.0)


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_predictions_are_written_by_spark(
    master: str, species_package: Path, penguins_csv: Path, tmp_path: Path, suffix: str
) -> None:
    out = tmp_path / f"predictions{suffix}"

    predict(species_package, str(penguins_csv), out=str(out), master=master)

    written = start(master).read.format(suffix[1:]).option("header", True).load(str(out))
    assert written.count() == 344
    assert "species" in written.columns


def test_existing_output_is_never_overwritten(
    master: str, species_package: Path, penguins_csv: Path, tmp_path: Path
) -> None:
    out = tmp_path / "taken.parquet"
    out.mkdir()
    (out / "keep.txt").write_text("mine")

    with pytest.raises(SparkDataError, match="already exists"):
        predict(species_package, str(penguins_csv), out=str(out), master=master)
    assert (out / "keep.txt").read_text() == "mine"


def test_missing_input_columns_are_named(
    master: str, species_package: Path, tmp_path: Path
) -> None:
    path = tmp_path / "thin.csv"
    path.write_text("island,year\nDream,2008\n")

    with pytest.raises(SparkDataError, match=r"no column 'bill_length_mm', 'bill_depth_mm'"):
        predict(species_package, str(path), master=master)


def test_evaluate_scores_against_the_target(
    master: str, species_package: Path, penguins_csv: Path
) -> None:
    metrics = evaluate(species_package, str(penguins_csv), master=master)

    assert set(metrics) == {"accuracy", "f1"}
    assert metrics["accuracy"] > 0.9


def test_evaluate_needs_the_target(master: str, species_package: Path, awkward_rows: Path) -> None:
    with pytest.raises(SparkDataError, match="no column 'species'"):
        evaluate(species_package, str(awkward_rows), master=master)
