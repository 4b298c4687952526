"""AutoML at the same time budget: ``modelyard compare --time-budget`` vs FLAML and AutoGluon.

    python -m bench.automl [--time-budget 60] [--datasets breast_cancer,wine]

For each dataset, one 80/20 split (stratified for classes, seed 0) is written to CSV; then:
- modelyard: ``modelyard compare TRAIN --time-budget S --out PKG`` and ``modelyard predict``;
- FLAML: ``AutoML().fit(time_budget=S)`` and ``predict``;
- AutoGluon: ``TabularPredictor.fit(time_limit=S, presets="medium_quality")`` and ``predict``,
each peer in its own pinned virtualenv (``bench.peers``, torch from ``constraints.txt``). All
are scored on the same held-out 20% (accuracy, or R²). Printed: the scores side by side,
modelyard's ratio to the better peer (target: at least 1.0) and each tool's wall time over the
budget (target for modelyard: at most 1.1).

Datasets: scikit-learn's breast_cancer, wine, digits and diabetes, palmerpenguins when it is
installed, and ``people``: a generated table with an ID column, names, free-text notes, and
high-cardinality zip and ticket codes.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.peers import Installed, Peer, ensure

MODELYARD = Path(sys.executable).with_name("modelyard")
PEERS = (
    Peer("flaml", "2.7.0", extras="automl", command=False),
    Peer("autogluon.tabular", "1.6.3", extras="all", command=False),
)
_LABELS = {"flaml": "FLAML", "autogluon.tabular": "AutoGluon"}
_RUN_SLACK = 3.0
"""A tool's process is ended at this many times the budget (plus a minute for start-up)."""

_FLAML = textwrap.dedent(
    """
    import sys, pandas as pd
    from flaml import AutoML
    train, test, target, task, budget, out = sys.argv[1:7]
    frame = pd.read_csv(train)
    automl = AutoML()
    automl.fit(frame.drop(columns=[target]), frame[target], task=task,
               metric="accuracy" if task == "classification" else "r2",
               time_budget=float(budget), seed=0, verbose=0)
    rows = pd.read_csv(test).drop(columns=[target])
    pd.DataFrame({target: automl.predict(rows)}).to_csv(out, index=False)
    """
)
_AUTOGLUON = textwrap.dedent(
    """
    import sys, tempfile, pandas as pd
    from autogluon.tabular import TabularPredictor
    train, test, target, task, budget, out = sys.argv[1:7]
    frame = pd.read_csv(train)
    kind = ("binary" if frame[target].nunique() == 2 else "multiclass") \\
        if task == "classification" else "regression"
    predictor = TabularPredictor(label=target, problem_type=kind, verbosity=0,
                                 eval_metric="accuracy" if task == "classification" else "r2",
                                 path=tempfile.mkdtemp())
    predictor.fit(frame, time_limit=float(budget), presets="medium_quality")
    rows = pd.read_csv(test).drop(columns=[target])
    pd.DataFrame({target: predictor.predict(rows)}).to_csv(out, index=False)
    """
)
_SCRIPTS = {"flaml": _FLAML, "autogluon.tabular": _AUTOGLUON}


@dataclass(frozen=True)
class Table:
    """A dataset: its rows (target column included) and what to learn."""

    name: str
    frame: Any
    target: str
    task: str


@dataclass(frozen=True)
class Outcome:
    """One tool on one dataset: its held-out score and wall time, or why it has none."""

    score: float | None
    seconds: float
    problem: str | None = None


def _sklearn(name: str) -> Callable[[], Table]:
    def load() -> Table:
        from sklearn import datasets

        frame = getattr(datasets, f"load_{name}")(as_frame=True).frame
        task = "regression" if name == "diabetes" else "classification"
        return Table(name, frame, "target", task)

    return load


def _penguins() -> Table:
    from palmerpenguins import load_penguins

    return Table("penguins", load_penguins(), "species", "classification")


def _people(rows: int = 3000) -> Table:
    """ID, names, notes, zip and ticket codes; the target depends on zip, age and the notes."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    zips = [f"{code:05d}" for code in rng.choice(100_000, 400, replace=False)]
    zip_effect = dict(zip(zips, rng.normal(scale=1.5, size=len(zips)), strict=True))
    first = ["Ana", "Ben", "Chen", "Dara", "Eli", "Fatima", "Goran", "Hana", "Ivan", "Jia"]
    last = ["Smith", "Okafor", "Novak", "Garcia", "Kim", "Rossi", "Berg", "Singh", "Haddad"]
    words = ["late", "payment", "loyal", "complaint", "upgrade", "refund", "friendly", "urgent"]
    zip_codes = rng.choice(zips, rows)
    age = rng.integers(18, 80, rows)
    income = rng.lognormal(10, 0.5, rows)
    notes = [" ".join(rng.choice(words, rng.integers(3, 8))) for _ in range(rows)]
    text_effect = np.array([note.count("complaint") - note.count("loyal") for note in notes])
    logit = (
        np.array([zip_effect[code] for code in zip_codes])
        + 0.03 * (age - 50)
        + 0.6 * text_effect
        + rng.normal(scale=0.5, size=rows)
    )
    frame = pd.DataFrame(
        {
            "customer_id": [f"C{index:07d}" for index in rng.permutation(rows)],
            "name": [f"{rng.choice(first)} {rng.choice(last)}-{index}" for index in range(rows)],
            "zip": zip_codes,
            "ticket": [f"T{code}" for code in rng.integers(0, 2000, rows)],
            "age": age,
            "income": income.round(2),
            "notes": notes,
            "churned": np.where(logit > 0, "yes", "no"),
        }
    )
    return Table("people", frame, "churned", "classification")


DATASETS: dict[str, Callable[[], Table]] = {
    "breast_cancer": _sklearn("breast_cancer"),
    "wine": _sklearn("wine"),
    "digits": _sklearn("digits"),
    "diabetes": _sklearn("diabetes"),
    "penguins": _penguins,
    "people": _people,
}


def _split(table: Table, folder: Path) -> tuple[Path, Path]:
    from sklearn.model_selection import train_test_split

    frame = table.frame.dropna(subset=[table.target])
    stratify = frame[table.target] if table.task == "classification" else None
    train, test = train_test_split(frame, test_size=0.2, random_state=0, stratify=stratify)
    paths = folder / "train.csv", folder / "test.csv"
    train.to_csv(paths[0], index=False)
    test.to_csv(paths[1], index=False)
    return paths


def _score(table: Table, test: Path, predictions: Path) -> float:
    import pandas as pd
    from sklearn.metrics import accuracy_score, r2_score

    truth = pd.read_csv(test)[table.target]
    predicted = pd.read_csv(predictions)[table.target]
    if table.task == "classification":
        return float(accuracy_score(truth.astype(str), predicted.astype(str)))
    return float(r2_score(truth, predicted))


def _timed(command: list[str], budget: float) -> tuple[float, str | None]:
    """Wall seconds of ``command``, and its last error line if it failed."""
    started = time.perf_counter()
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=_RUN_SLACK * budget + 60, check=False
        )
    except subprocess.TimeoutExpired:
        return time.perf_counter() - started, "did not finish"
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        return seconds, lines[-1] if lines else f"exit code {done.returncode}"
    return seconds, None


def _modelyard(table: Table, train: Path, test: Path, budget: float, folder: Path) -> Outcome:
    package, predictions = folder / "modelyard-pkg", folder / "modelyard.csv"
    compare = [str(MODELYARD), "compare", str(train), "--target", table.target]
    compare += ["--time-budget", f"{budget:g}", "--out", str(package), "--json"]
    seconds, problem = _timed(compare, budget)
    if problem:
        return Outcome(None, seconds, problem)
    predict = [str(MODELYARD), "predict", str(package), str(test), "--out", str(predictions)]
    _, problem = _timed(predict, budget)
    if problem:
        return Outcome(None, seconds, problem)
    return Outcome(_score(table, test, predictions), seconds)


def _peer(
    installed: Installed, table: Table, train: Path, test: Path, budget: float, folder: Path
) -> Outcome:
    if installed.bin_dir is None:
        return Outcome(None, 0.0, installed.problem)
    predictions = folder / f"{installed.peer.name}.csv"
    command = [str(installed.bin_dir / "python"), "-c", _SCRIPTS[installed.peer.name]]
    command += [str(train), str(test), table.target, table.task, f"{budget:g}", str(predictions)]
    seconds, problem = _timed(command, budget)
    if problem:
        return Outcome(None, seconds, problem)
    return Outcome(_score(table, test, predictions), seconds)


def _datasets(names: list[str]) -> list[Table]:
    tables = []
    for name in names:
        try:
            tables.append(DATASETS[name]())
        except ImportError as error:
            print(f"{name}: skipped ({error})")
    return tables


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.automl", description=__doc__)
    parser.add_argument("--time-budget", type=float, default=60.0, metavar="SECONDS")
    parser.add_argument(
        "--datasets", default=",".join(DATASETS), help=f"comma-separated: {', '.join(DATASETS)}"
    )
    args = parser.parse_args(argv)
    budget = args.time_budget
    names = [name.strip() for name in args.datasets.split(",") if name.strip()]
    unknown = sorted(set(names) - set(DATASETS))
    if unknown:
        parser.error(f"unknown dataset(s): {', '.join(unknown)}")
    peers = [ensure(peer) for peer in PEERS]
    for installed in peers:
        print(f"{installed.label}: {installed.problem or 'ready'}")
    rows = []
    for table in _datasets(names):
        with tempfile.TemporaryDirectory(prefix=f"automl-{table.name}-") as temporary:
            folder = Path(temporary)
            train, test = _split(table, folder)
            outcomes = {"modelyard": _modelyard(table, train, test, budget, folder)}
            for installed in peers:
                label = _LABELS[installed.peer.name]
                outcomes[label] = _peer(installed, table, train, test, budget, folder)
        rows.append((table, outcomes))
        _print_row(table, outcomes, budget)
    print(json.dumps([_summary(table, outcomes, budget) for table, outcomes in rows], indent=2))
    return 0


def _summary(table: Table, outcomes: dict[str, Outcome], budget: float) -> dict[str, Any]:
    peers = [
        o.score for label, o in outcomes.items() if label != "modelyard" and o.score is not None
    ]
    mine = outcomes["modelyard"].score
    return {
        "dataset": table.name,
        "task": table.task,
        "metric": "accuracy" if table.task == "classification" else "r2",
        "scores": {label: outcome.score for label, outcome in outcomes.items()},
        "wall_over_budget": {
            label: round(outcome.seconds / budget, 3) for label, outcome in outcomes.items()
        },
        "ratio_to_better_peer": round(mine / max(peers), 4) if mine is not None and peers else None,
        "problems": {label: o.problem for label, o in outcomes.items() if o.problem},
    }


def _print_row(table: Table, outcomes: dict[str, Outcome], budget: float) -> None:
    summary = _summary(table, outcomes, budget)
    cells = []
    for label, outcome in outcomes.items():
        score = "n/a" if outcome.score is None else f"{outcome.score:.4f}"
        cells.append(f"{label} {score} ({outcome.seconds / budget:.2f}x budget)")
    ratio = summary["ratio_to_better_peer"]
    print(f"{table.name} [{summary['metric']}]: {'; '.join(cells)}; ratio {ratio}", flush=True)
    for label, problem in summary["problems"].items():
        print(f"  {label}: {problem}")


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
