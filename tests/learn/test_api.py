"""``train``, ``compare``, ``evaluate`` and ``predict`` and their errors."""

from __future__ import annotations

import pandas as pd
import pytest

from modelyard.data.errors import UnreadableDataError, UnusableTargetError
from modelyard.learn.api import compare, evaluate, predict, train
from modelyard.learn.errors import UnknownModelError
from modelyard.learn.model import Model
from modelyard.package.manifest import Manifest


def test_train_saves_a_package_with_metrics(tmp_path, penguins_csv):
    result = train(penguins_csv, "species", out=tmp_path / "pkg", seed=2)
    assert result.model == "lightgbm" and result.task == "classification"
    assert result.metrics["accuracy"] > 0.9
    manifest = Manifest.read(tmp_path / "pkg")
    assert manifest.metrics == result.metrics and manifest.seed == 2
    assert manifest.classes == ["Adelie", "Chinstrap", "Gentoo"]
    assert not any(name.endswith((".pkl", ".pickle", ".joblib")) for name in manifest.files)
    card = (tmp_path / "pkg" / "README.md").read_text()
    assert card.startswith("---\nlibrary_name:") and "accuracy" in card


def test_evaluate_and_predict(tmp_path, penguins_csv):
    train(penguins_csv, "species", model="xgboost", out=tmp_path / "pkg")
    assert evaluate(tmp_path / "pkg", penguins_csv)["accuracy"] > 0.9
    predictions = predict(tmp_path / "pkg", penguins_csv, proba=True)
    assert list(predictions.columns) == [
        "species", "proba_Adelie", "proba_Chinstrap", "proba_Gentoo",
    ]  # fmt: skip
    assert len(predictions) == 344


def test_compare_ranks_best_first(penguins_csv):
    board = compare(penguins_csv, "species", models=["sklearn.linear", "sklearn.tree"], cv=3)
    scores = [entry.score for entry in board.leaderboard]
    assert scores == sorted(scores, reverse=True) and board.metric == "accuracy"
    assert set(board.to_dict()["leaderboard"][0]) == {
        "model", "backend", "score", "std", "fit_seconds",
    }  # fmt: skip


def test_time_budget_skips_the_rest(penguins_csv):
    board = compare(
        penguins_csv, "species", models=["sklearn.linear", "sklearn.tree"], cv=2, time_budget=0
    )
    assert len(board.leaderboard) == 1 and "sklearn.tree" in board.skipped


def test_errors(tmp_path, penguins):
    one_class = penguins.assign(species="Adelie")
    one_class.to_csv(tmp_path / "one.csv", index=False)
    with pytest.raises(UnusableTargetError, match="only one class"):
        train(tmp_path / "one.csv", "species")
    penguins.head(5).to_csv(tmp_path / "tiny.csv", index=False)
    with pytest.raises(UnreadableDataError, match="at least"):
        train(tmp_path / "tiny.csv", "species")
    penguins.to_csv(tmp_path / "ok.csv", index=False)
    with pytest.raises(UnknownModelError, match="lightgbm"):
        train(tmp_path / "ok.csv", "species", model="gpt")
    pd.DataFrame({"a": ["x"] * 20, "t": range(20)}).to_csv(tmp_path / "str.csv", index=False)
    with pytest.raises(UnusableTargetError, match="not numeric"):
        train(tmp_path / "str.csv", "a", task="regression")


def test_train_refits_on_all_rows_and_says_what_the_metrics_describe(tmp_path, penguins_csv):
    refitted = train(penguins_csv, "species", out=tmp_path / "all", seed=1)
    kept = train(penguins_csv, "species", out=tmp_path / "kept", seed=1, refit=False)
    assert refitted.metrics == kept.metrics  # both measured on the same hold-out
    frame = pd.read_csv(penguins_csv)
    X, y = frame.drop(columns=["species"]), frame["species"]
    on_all_rows = Model(seed=1).fit(X, y).predict_proba(X)
    assert (refitted.estimator.predict_proba(X) == on_all_rows).all()
    assert not (kept.estimator.predict_proba(X) == on_all_rows).all()
    evaluation = Manifest.read(tmp_path / "all").evaluation
    assert evaluation == {
        "rows": 344,
        "holdout_rows": 69,
        "refitted": True,
        "summary": "Measured on a 20% hold-out (69 of 344 rows); "
        "final model refitted on all 344 rows.",
    }
    assert evaluation["summary"] in (tmp_path / "all" / "README.md").read_text()
    assert (
        Manifest.read(tmp_path / "kept")
        .evaluation["summary"]
        .endswith("final model is the measured one, fitted on the other 275 rows.")
    )


def test_train_leaves_out_rows_without_a_target(tmp_path, penguins):
    penguins.loc[:9, "body_mass_g"] = None
    missing = int(penguins["body_mass_g"].isna().sum())
    penguins.to_csv(tmp_path / "gaps.csv", index=False)
    result = train(tmp_path / "gaps.csv", "body_mass_g", out=tmp_path / "pkg")
    assert missing > 10 and result.missing_target_rows == missing
    assert result.evaluation is not None and result.evaluation.rows == 344 - missing
