"""``compare``'s engine: folds, the budgeted search, deadlines that cut trials, the winner."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from typing import Any

import numpy as np
import pytest

from modelyard.learn.api import compare
from modelyard.learn.backends import keras as keras_backend
from modelyard.learn.model import Model
from modelyard.learn.models import get_spec
from modelyard.learn.registry import EarlyStopping
from modelyard.learn.search import (
    Candidate,
    _Cut,
    _run,
    _WorkersBroke,
    by_priority,
    make_folds,
    search,
)
from modelyard.learn.spaces import SEARCH_SPACES
from modelyard.learn.workers import Workers


def test_time_budget_is_spent_on_tuning_and_kept(penguins_csv):
    budget = 30.0
    started = time.monotonic()
    board = compare(
        penguins_csv, "species", models=["sklearn.linear", "lightgbm"], cv=2, time_budget=budget
    )
    elapsed = time.monotonic() - started
    assert elapsed <= 1.1 * budget
    singles = [entry for entry in board.leaderboard if entry.model != "ensemble"]
    assert {entry.model for entry in singles} == {"sklearn.linear", "lightgbm"}
    assert all(entry.params is not None and entry.trials for entry in singles)
    assert sum(entry.trials or 0 for entry in singles) > 2  # tuned past the defaults
    tuned = next(entry for entry in singles if entry.model == "lightgbm")
    assert "n_estimators" in (tuned.params or {})  # the rounds early stopping kept
    assert set(board.to_dict()["leaderboard"][-1]) >= {"params", "trials"}


def test_without_a_budget_every_candidate_runs_its_defaults(penguins):
    X, y = penguins.drop(columns=["species"]), penguins["species"]
    folds = make_folds(X, y, "classification", 3, 0, stratify=True)
    result = search(
        folds, [get_spec("sklearn.tree"), get_spec("sklearn.linear")], seed=0, budget=None
    )
    assert [candidate.trials for candidate in result.candidates] == [1, 1]
    best = result.candidates[0].best
    assert best is not None and best.params == {} and len(best.models) == 3
    assert best.predictions.shape == (len(y), 3)
    np.testing.assert_allclose(best.predictions.sum(axis=1), 1)


def test_a_deadline_kills_a_trial_that_runs_past_it(penguins):
    X, y = penguins.drop(columns=["species"]), penguins["species"]
    folds = make_folds(X, y, "classification", 2, 0, stratify=True)
    candidate = Candidate(get_spec("sklearn.random_forest"))
    started = time.monotonic()
    with Workers(2) as workers, pytest.raises(_Cut):
        _run(
            candidate,
            folds,
            {"n_estimators": 100_000},
            0,
            started + 0.5,
            workers,
            stop_early=False,
            kill=True,
            restart=False,
        )
    assert time.monotonic() - started < 10 and candidate.best is None and candidate.trials == 1


def test_a_worker_that_dies_is_reported_as_such_not_as_a_spent_budget(penguins):
    """A worker killed mid-trial (as the kernel's out-of-memory killer does) breaks the trial with
    the pool's own explanation; the deadline, far away, has nothing to do with it."""
    import psutil

    X, y = penguins.drop(columns=["species"]), penguins["species"]
    folds = make_folds(X, y, "classification", 2, 0, stratify=True)
    candidate = Candidate(get_spec("sklearn.random_forest"))

    def kill_a_worker() -> None:
        time.sleep(2)  # the folds are being fitted (100,000 trees take minutes)
        while not (pool := [child for child in psutil.Process().children() if _is_worker(child)]):
            time.sleep(0.1)
        pool[0].kill()

    with Workers(2) as workers, pytest.raises(_WorkersBroke, match="unexpectedly terminated"):
        killer = threading.Thread(target=kill_a_worker)
        killer.start()
        _run(
            candidate,
            folds,
            {"n_estimators": 100_000},
            0,
            time.monotonic() + 120,
            workers,
            stop_early=False,
            kill=True,
            restart=False,
        )
    killer.join()
    assert candidate.best is None and candidate.trials == 1


def _is_worker(process: Any) -> bool:
    return "LokyProcess" in " ".join(process.cmdline())


def test_a_deadline_stops_boosting_rounds(penguins):
    X, y = penguins.drop(columns=["species"]), penguins["species"]
    for name in ("lightgbm", "xgboost"):
        stopping = EarlyStopping(X.tail(100), y.tail(100), deadline=time.monotonic() - 1)
        model = Model(name, params={"n_estimators": 5000}).fit(X, y, early_stopping=stopping)
        assert model.best_rounds_ <= 2


def test_budgets_go_to_the_strongest_models_first():
    names = ["sklearn.tree", "keras.mlp", "sklearn.linear", "xgboost", "lightgbm"]
    ordered = [spec.name for spec in by_priority([get_spec(name) for name in names])]
    assert ordered == ["lightgbm", "xgboost", "sklearn.linear", "sklearn.tree", "keras.mlp"]


def test_a_budget_skips_bayesian_defaults(penguins):
    X, y = penguins.drop(columns=["species"]), penguins["species"]
    folds = make_folds(X, y, "classification", 2, 0, stratify=True)
    specs = [get_spec("pymc.logistic"), get_spec("sklearn.tree")]
    result = search(folds, specs, seed=0, budget=0.0)
    assert "posterior" in result.skipped["pymc.logistic"]
    assert [candidate.spec.name for candidate in result.candidates] == ["sklearn.tree"]


def test_a_cut_first_trial_falls_back_to_a_fast_model_on_a_subsample(penguins):
    X, y = penguins.drop(columns=["species"]), penguins["species"]
    folds = make_folds(X, y, "classification", 2, 0, stratify=True)
    specs = [get_spec("sklearn.random_forest"), get_spec("sklearn.linear")]
    result = search(folds, specs, seed=0, budget=0.0)  # no worker starts in time
    assert result.skipped["sklearn.random_forest"] == "time budget spent"
    assert [candidate.spec.name for candidate in result.candidates] == ["sklearn.linear"]
    assert result.candidates[0].best is not None and result.candidates[0].best.score > 0.8
    assert result.notes and "sklearn.linear was fitted on at most 1,000" in result.notes[0]


@pytest.mark.parametrize("name", sorted(SEARCH_SPACES))
def test_every_search_space_fits_a_small_table(penguins, name):
    import optuna

    rows = penguins.dropna(subset=["species"]).sample(120, random_state=0)
    X, y = rows.drop(columns=["species"]), rows["species"]
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(3):
        params = SEARCH_SPACES[name](study.ask(), "classification", len(y))
        for size in ("num_leaves", "max_leaf_nodes", "min_child_samples", "min_samples_leaf"):
            assert params.get(size, 0) <= max(len(y) // 4, 5)  # leaves that hold rows
        if "n_estimators" in params:
            params["n_estimators"] = 20
        model = Model(name, task="classification", params=params).fit(X, y)
        assert set(model.predict(X)) <= set(y)


@pytest.mark.parametrize("name", sorted(SEARCH_SPACES))
def test_every_search_space_fits_a_small_regression_table(diabetes, name):
    """Parameters reach the estimator, wrapped or not (the MLP's standardised target)."""
    import optuna

    rows = diabetes.sample(120, random_state=0)
    X, y = rows.drop(columns=["target"]), rows["target"]
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(3):
        params = SEARCH_SPACES[name](study.ask(), "regression", len(y))
        if "n_estimators" in params:
            params["n_estimators"] = 20
        model = Model(name, task="regression", params=params).fit(X, y)
        assert np.isfinite(model.predict(X)).all()


def test_a_keras_network_fitted_in_a_worker_comes_back(tmp_path, diabetes):
    """In a fresh process, as the CLI runs: Keras not imported yet, its backend not chosen."""
    if not keras_backend.available():
        pytest.skip("keras and torch are not installed")
    path = tmp_path / "diabetes.csv"
    diabetes.to_csv(path, index=False)
    code = (
        "import sys, modelyard\n"
        "board = modelyard.compare(sys.argv[1], 'target', models=['keras.mlp'], cv=2)\n"
        "print([entry.model for entry in board.leaderboard], board.skipped)\n"
    )
    environment = {name: value for name, value in os.environ.items() if name != "KERAS_BACKEND"}
    done = subprocess.run(
        [sys.executable, "-c", code, str(path)],
        capture_output=True,
        text=True,
        env=environment,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "['keras.mlp'] {}"


def test_a_worker_pools_manager_thread_failing_shows_no_traceback(monkeypatch):
    import threading

    shown = []
    monkeypatch.setattr(threading, "excepthook", lambda args: shown.append(args.thread))
    with Workers(1) as workers:
        workers.submit(time.sleep, 0).result()
        manager = workers.executor._executor_manager_thread
        for thread in (manager, threading.current_thread()):
            error = KeyError(7)
            threading.excepthook(
                threading.ExceptHookArgs([KeyError, error, error.__traceback__, thread])
            )
    assert shown == [threading.current_thread()]  # other threads' errors still show
