"""``train`` with defaults against a default LightGBM fitted directly, on the same rows.

    python -m bench.train_quality [--rows 5000] [--seed 0]

Each table is split 80/20 once. ``modelyard train`` gets the 80% (it measures on a share of
them, then refits on all of them); ``lightgbm.LGBMClassifier()`` / ``LGBMRegressor()`` get the
same 80% as a user would hand them over (string columns as pandas categories). Both are scored
on the same held-out 20%: accuracy for classification, R² for regression. Tables: scikit-learn's
bundled breast_cancer, wine and diabetes, and generated tables with names, ticket codes,
postcodes and free-text notes (``bench/_tables.py``). Target: a ratio of at least 0.99 on each.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

import pandas as pd

from bench._tables import mixed_table

TARGET_RATIO = 0.99


def _datasets(rows: int, seed: int) -> dict[str, Callable[[], pd.DataFrame]]:
    from sklearn.datasets import load_breast_cancer, load_diabetes, load_wine

    return {
        "breast_cancer": lambda: load_breast_cancer(as_frame=True).frame,
        "wine": lambda: load_wine(as_frame=True).frame,
        "diabetes": lambda: load_diabetes(as_frame=True).frame,
        "mixed (classification)": lambda: mixed_table(rows, "classification", seed),
        "mixed (regression)": lambda: mixed_table(rows, "regression", seed),
    }


def _lightgbm_score(train: pd.DataFrame, test: pd.DataFrame, task: str, seed: int) -> float:
    """A default LightGBM on the raw columns, strings as pandas categories."""
    import lightgbm

    def features(frame: pd.DataFrame) -> pd.DataFrame:
        X = frame.drop(columns=["target"])
        strings = [name for name in X.columns if not pd.api.types.is_numeric_dtype(X[name])]
        return X.astype(dict.fromkeys(strings, "category"))

    kind = lightgbm.LGBMClassifier if task == "classification" else lightgbm.LGBMRegressor
    model = kind(random_state=seed, verbose=-1).fit(features(train), train["target"])
    return float(model.score(features(test), test["target"]))


def _modelyard_score(train: pd.DataFrame, test: pd.DataFrame, seed: int) -> float:
    from modelyard.data.reading import Dataset
    from modelyard.learn.api import train as modelyard_train

    dataset = Dataset("table", train.drop(columns=["target"]), train["target"], target="target")
    result = modelyard_train(dataset, "target", seed=seed)
    return result.estimator.score(test.drop(columns=["target"]), test["target"])


def run(rows: int, seed: int) -> list[dict[str, Any]]:
    """One line per table: both scores and their ratio."""
    from sklearn.model_selection import train_test_split

    from modelyard.learn.task import infer_task

    lines = []
    for name, load in _datasets(rows, seed).items():
        frame = load()
        task = infer_task(frame["target"])
        stratify = frame["target"] if task == "classification" else None
        train, test = train_test_split(frame, test_size=0.2, random_state=seed, stratify=stratify)
        started = time.perf_counter()
        ours = _modelyard_score(train, test, seed)
        seconds = time.perf_counter() - started
        theirs = _lightgbm_score(train, test, task, seed)
        lines.append(
            {
                "dataset": name,
                "task": task,
                "rows": len(frame),
                "modelyard": ours,
                "lightgbm": theirs,
                "ratio": ours / theirs,
                "train_seconds": seconds,
            }
        )
    return lines


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.train_quality")
    parser.add_argument("--rows", type=int, default=5000, help="rows of each generated table")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    lines = run(args.rows, args.seed)
    print(f"{'dataset':24} {'task':15} {'rows':>6} {'modelyard':>10} {'lightgbm':>10} {'ratio':>7}")
    for line in lines:
        print(
            f"{line['dataset']:24} {line['task']:15} {line['rows']:6d} {line['modelyard']:10.4f} "
            f"{line['lightgbm']:10.4f} {line['ratio']:7.3f}"
        )
    worst = min(line["ratio"] for line in lines)
    print(f"worst ratio {worst:.3f} (target: at least {TARGET_RATIO})")
    return 0 if worst >= TARGET_RATIO else 1


if __name__ == "__main__":
    import sys

    sys.exit(main(sys.argv[1:]))
