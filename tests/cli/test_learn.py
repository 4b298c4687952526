"""The learning commands as a user runs them: output shapes, files written, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from palmerpenguins import load_penguins

MODELYARD = str(Path(sys.executable).with_name("modelyard"))


def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([MODELYARD, *map(str, args)], capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def penguins_csv(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "penguins.csv"
    load_penguins().to_csv(path, index=False)
    return path


def test_train_predict_evaluate(tmp_path, penguins_csv):
    result = run("train", penguins_csv, "--target", "species", "--out", tmp_path / "pkg", "--json")
    assert result.returncode == 0, result.stderr
    trained = json.loads(result.stdout)
    assert set(trained) == {"model", "backend", "task", "metrics", "package"}
    assert trained["model"] == "lightgbm" and trained["task"] == "classification"

    out = tmp_path / "predictions.parquet"
    assert run("predict", tmp_path / "pkg", penguins_csv, "--out", out, "--proba").returncode == 0
    predictions = pd.read_parquet(out)
    assert list(predictions.columns)[:2] == ["species", "proba_Adelie"]

    csv = run("predict", tmp_path / "pkg", penguins_csv)
    assert csv.stdout.splitlines()[0] == "species" and len(csv.stdout.splitlines()) == 345

    evaluated = run("evaluate", tmp_path / "pkg", penguins_csv, "--json")
    assert json.loads(evaluated.stdout)["accuracy"] > 0.9


def test_compare_json_leaderboard(penguins_csv):
    result = run(
        "compare", penguins_csv, "--target", "species", "--models", "sklearn.linear,sklearn.knn",
        "--cv", "3", "--json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    board = json.loads(result.stdout)
    assert board["task"] == "classification" and board["metric"] == "accuracy"
    assert [set(entry) for entry in board["leaderboard"]] == [
        {"model", "backend", "score", "std", "fit_seconds"}
    ] * 2


def test_models_lists_every_backend():
    rows = json.loads(run("models", "--json").stdout)
    backends = {row["backend"] for row in rows}
    assert {"sklearn", "xgboost", "lightgbm", "keras", "spark"} <= backends


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--target", "nope"), "target column 'nope' is not in the data"),
        (("--target", "species", "--model", "gpt"), "no model called 'gpt'"),
    ],
)
def test_errors_are_one_line(penguins_csv, args, message):
    result = run("train", penguins_csv, *args)
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr


def test_bayesian_train_with_advi_and_predict_with_intervals(tmp_path, penguins_csv):
    pytest.importorskip("pymc")
    trained = run(
        "train", penguins_csv, "--target", "body_mass_g", "--model", "pymc.linear",
        "--fit", "advi", "--out", tmp_path / "pkg", "--json",
    )  # fmt: skip
    assert trained.returncode == 0, trained.stderr
    out = tmp_path / "p.csv"
    result = run("predict", tmp_path / "pkg", penguins_csv, "--out", out, "--interval", "0.9")
    assert result.returncode == 0, result.stderr
    columns = pd.read_csv(out).columns
    assert list(columns) == ["body_mass_g", "body_mass_g_lower", "body_mass_g_upper"]

    run("train", penguins_csv, "--target", "body_mass_g", "--model", "sklearn.linear",
        "--out", tmp_path / "ridge")  # fmt: skip
    refused = run("predict", tmp_path / "ridge", penguins_csv, "--interval", "0.9")
    assert refused.returncode == 2
    assert "gives no prediction intervals (models that do: pymc.logistic" in refused.stderr


@pytest.mark.spark
def test_spark_engine_train_and_predict(tmp_path, penguins_csv):
    result = run(
        "train", penguins_csv, "--target", "species", "--engine", "spark", "--spark-master",
        "local[2]", "--model", "spark.random_forest", "--out", tmp_path / "pkg", "--json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["backend"] == "spark"
    assert run("scan", tmp_path / "pkg").returncode == 0  # Parquet and JSON only
    predicted = run("predict", tmp_path / "pkg", penguins_csv)  # a Spark package runs on Spark
    assert predicted.returncode == 0, predicted.stderr
    assert predicted.stdout.splitlines()[0].split(",")[-1] == "species"


def test_train_says_what_the_metrics_describe_and_leaves_out_missing_targets(tmp_path):
    frame = load_penguins()
    frame.loc[:4, "species"] = None
    frame.to_csv(tmp_path / "gaps.csv", index=False)
    result = run("train", tmp_path / "gaps.csv", "--target", "species", "--out", tmp_path / "pkg")
    assert result.returncode == 0, result.stderr
    assert "left out 5 row(s) whose target 'species' is missing" in result.stderr
    assert "Measured on a 20% hold-out (68 of 339 rows); final model refitted on all 339 rows." in (
        " ".join(result.stdout.split())
    )
    kept = run(
        "train", tmp_path / "gaps.csv", "-t", "species", "-o", tmp_path / "kept", "--no-refit"
    )
    assert kept.returncode == 0, kept.stderr
    assert "final model is the measured one, fitted on the other 271 rows." in (
        " ".join(kept.stdout.split())
    )


def test_compare_leaves_out_missing_targets(tmp_path):
    frame = load_penguins()
    frame.loc[:6, "species"] = None
    frame.to_csv(tmp_path / "gaps.csv", index=False)
    result = run(
        "compare", tmp_path / "gaps.csv", "-t", "species", "--models", "sklearn.linear", "--json"
    )
    assert result.returncode == 0, result.stderr
    assert "left out 7 row(s) whose target 'species' is missing" in result.stderr
    assert json.loads(result.stdout)["leaderboard"][0]["model"] == "sklearn.linear"


def test_a_semicolon_csv_with_decimal_commas_trains_and_predicts(tmp_path, penguins_csv):
    frame = load_penguins()
    frame.to_csv(tmp_path / "export.csv", sep=";", decimal=",", index=False)
    trained = run(
        "train", tmp_path / "export.csv", "-t", "species", "-o", tmp_path / "pkg", "--json"
    )
    assert trained.returncode == 0, trained.stderr
    assert json.loads(trained.stdout)["metrics"]["accuracy"] > 0.9
    schema = json.loads((tmp_path / "pkg" / "modelyard.json").read_text())["input"]["schema"]
    assert {"name": "bill_length_mm", "type": "numeric"} in schema["columns"]
    predicted = run("predict", tmp_path / "pkg", tmp_path / "export.csv")
    assert predicted.returncode == 0, predicted.stderr
    assert len(predicted.stdout.splitlines()) == 345


def test_text_in_a_numeric_column_at_predict_time_is_named(tmp_path, penguins_csv):
    assert run("train", penguins_csv, "-t", "species", "-o", tmp_path / "pkg").returncode == 0
    frame = load_penguins().astype({"body_mass_g": object})
    frame.loc[:2, "body_mass_g"] = "heavy"
    frame.loc[3:4, "body_mass_g"] = ""  # empty is missing, not text
    frame.to_csv(tmp_path / "new.csv", index=False)
    predicted = run("predict", tmp_path / "pkg", tmp_path / "new.csv", "--proba")
    assert predicted.returncode == 0, predicted.stderr
    message = (
        "warning: column 'body_mass_g': 3 value(s) are not numbers (such as 'heavy') and were "
        "treated as missing"
    )
    assert " ".join(predicted.stderr.split()) == message  # once, though predicted twice
    assert len(predicted.stdout.splitlines()) == 345


def test_bad_input_never_shows_a_traceback(tmp_path):
    frame = load_penguins()
    frame["species"] = None
    frame.to_csv(tmp_path / "no-target.csv", index=False)
    result = run("train", tmp_path / "no-target.csv", "-t", "species")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "error: target 'species' has no values" in result.stderr


def test_compare_with_a_budget_saves_the_winner(tmp_path, penguins_csv):
    result = run(
        "compare", penguins_csv, "--target", "species", "--models", "sklearn.linear,sklearn.knn",
        "--cv", "2", "--time-budget", "10", "--out", tmp_path / "best", "--json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    board = json.loads(result.stdout)
    assert board["package"] == str(tmp_path / "best")
    assert all(
        {"model", "backend", "score", "std", "fit_seconds"} <= set(entry)
        for entry in board["leaderboard"]
    )
    assert all("params" in entry for entry in board["leaderboard"])
    csv = run("predict", tmp_path / "best", penguins_csv)
    assert csv.returncode == 0, csv.stderr
    assert csv.stdout.splitlines()[0] == "species" and len(csv.stdout.splitlines()) == 345
    table = run(
        "compare",
        penguins_csv,
        "--target",
        "species",
        "--models",
        "sklearn.knn",
        "--cv",
        "2",
        "--time-budget",
        "4",
    )
    assert table.returncode == 0, table.stderr
    assert "trials" in table.stdout and "params" in table.stdout


def test_compare_keeps_to_its_time_budget(tmp_path):
    from sklearn.datasets import make_classification

    X, y = make_classification(n_samples=4000, n_features=20, n_informative=8, random_state=0)
    frame = pd.DataFrame(X, columns=[f"x{index}" for index in range(20)])
    frame["city"] = [f"city{index % 40}" for index in range(len(frame))]
    frame["label"] = y
    frame.to_csv(tmp_path / "generated.csv", index=False)
    budget = 15
    started = time.monotonic()
    result = run(
        "compare", tmp_path / "generated.csv", "-t", "label", "--time-budget", str(budget),
        "--out", tmp_path / "best", "--json",
    )  # fmt: skip
    elapsed = time.monotonic() - started  # the CLI's start-up included
    assert result.returncode == 0, result.stderr
    assert elapsed <= 1.1 * budget + 1.0  # a second for the interpreter on a loaded machine
    assert json.loads(result.stdout)["leaderboard"][0]["score"] > 0.8
