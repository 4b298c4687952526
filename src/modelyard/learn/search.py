"""``compare``'s engine: candidates cross-validated fold by fold in parallel processes and,
within a time budget, tuned with Optuna's TPE sampler, then ensembled from their out-of-fold
predictions.

Every trial runs its folds in worker processes (one per core, at most one per fold) and is cut
at its deadline: boosting models stop adding rounds (and keep the rounds they have), other
models' workers are killed and the trial is dropped. The first candidate to run is never
killed (a boosting model still stops its rounds at the deadline), so ``compare`` always has a
result.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION, wait
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from modelyard.learn.backends.base import StopsEarly
from modelyard.learn.errors import LearnError
from modelyard.learn.model import Model
from modelyard.learn.models import backend_of
from modelyard.learn.registry import EarlyStopping, ModelSpec, Task
from modelyard.learn.results import LeaderboardEntry
from modelyard.learn.spaces import SEARCH_SPACES

if TYPE_CHECKING:
    import optuna

logger = logging.getLogger(__name__)

Standings = Callable[[float, list[LeaderboardEntry]], None]
"""Called as ``standings(elapsed_seconds, leaderboard)`` after every trial of a budgeted search."""

_TRIAL_SHARE = 0.3
"""A trial that starts once the first has run may use at most this share of the budget."""
_KILL_GRACE = 0.5
"""Seconds a trial's workers get past its deadline to return before they are killed."""
_CONTENDERS = 3
"""The search spends its trials on the candidates ranked this high (by score) at the time."""
_FIRST = (
    "lightgbm",
    "sklearn.hist_gradient_boosting",
    "xgboost",
    "sklearn.random_forest",
    "sklearn.linear",
    "sklearn.knn",
)
"""The models a budget is spent on first, strongest on most tables first (as AutoGluon)."""


def by_priority(specs: list[ModelSpec]) -> list[ModelSpec]:
    """``specs`` with those of ``_FIRST`` first, in its order; the rest keep theirs."""
    rank = {name: index for index, name in enumerate(_FIRST)}
    return sorted(specs, key=lambda spec: rank.get(spec.name, len(rank)))


@dataclass(frozen=True)
class Folds:
    """The rows, the target and the cross-validation splits every trial shares."""

    X: Any
    y: Any
    task: Task
    splits: list[tuple[Any, Any]]
    classes: Any = None
    """Sorted class labels (classification); out-of-fold probabilities have one column each."""
    codes: Any = None
    """``y`` as indices into ``classes`` (classification)."""


@dataclass(frozen=True)
class Trial:
    """One configuration, cross-validated: its fold scores, out-of-fold predictions (class
    probabilities, or values) and the fitted fold models."""

    params: dict[str, Any]
    scores: list[float]
    fit_seconds: float
    predictions: Any
    models: list[Model]

    @property
    def score(self) -> float:
        return sum(self.scores) / len(self.scores)


@dataclass
class Candidate:
    """A model being searched: its best trial so far, how many trials ran, its Optuna study."""

    spec: ModelSpec
    best: Trial | None = None
    trials: int = 0
    study: optuna.Study | None = None
    last_seconds: float = 0.0
    """Wall time of its last trial, to tell whether another fits in the time left."""

    def entry(self, searched: bool) -> LeaderboardEntry:
        assert self.best is not None
        return LeaderboardEntry(
            self.spec.name,
            self.spec.backend,
            round(self.best.score, 6),
            round(_std(self.best.scores), 6),
            round(self.best.fit_seconds, 4),
            params=dict(self.best.params) if searched else None,
            trials=self.trials if searched else None,
        )


@dataclass
class SearchResult:
    """Every candidate that ran (best trial each), best first, and those that did not."""

    candidates: list[Candidate]
    skipped: dict[str, str] = field(default_factory=dict)


class _Cut(Exception):
    """A trial's deadline passed before its folds finished."""


def make_folds(X: Any, y: Any, task: Task, cv: int, seed: int, stratify: bool) -> Folds:
    """``cv`` shuffled splits (stratified by class when ``stratify``)."""
    import numpy as np
    from sklearn.model_selection import KFold, StratifiedKFold

    y = np.asarray(y)
    splitter: Any = (
        StratifiedKFold(n_splits=cv, shuffle=True, random_state=seed)
        if stratify
        else KFold(n_splits=cv, shuffle=True, random_state=seed)
    )
    splits = list(splitter.split(np.zeros(len(y)), y))
    if task == "regression":
        return Folds(X, y, task, splits)
    labels = y.astype(str) if y.dtype == object else y
    classes, codes = np.unique(labels, return_inverse=True)
    return Folds(X, y, task, splits, classes, codes)


def fold_score(folds: Folds, predictions: Any, rows: Any) -> float:
    """``compare``'s metric (accuracy, or R²) of out-of-fold ``predictions`` on ``rows``."""
    from sklearn.metrics import accuracy_score, r2_score

    if folds.task == "classification":
        return float(accuracy_score(folds.codes[rows], predictions[rows].argmax(axis=1)))
    return float(r2_score(folds.y[rows], predictions[rows]))


def search(
    folds: Folds,
    specs: list[ModelSpec],
    *,
    seed: int,
    budget: float | None,
    progress: Callable[[int, int, str], None] | None = None,
    standings: Standings | None = None,
    defaults: bool = True,
) -> SearchResult:
    """Run each candidate's default configuration, then, with a ``budget`` in seconds, tune
    the best few with TPE until the budget is spent (never more than 10% past it).

    ``defaults`` says ``specs`` were not named by the user: models marked slow for this many
    rows are skipped, and so, with a budget, are Bayesian ones (sampling a posterior is slow).
    ``progress(done, total, what)`` counts candidates without a budget and seconds with one.
    """
    started = time.monotonic()
    end = None if budget is None else started + budget
    workers = min(len(folds.splits), os.cpu_count() or 1)
    result = SearchResult([])
    for index, spec in enumerate(specs):
        if defaults and spec.max_rows is not None and len(folds.y) > spec.max_rows:
            result.skipped[spec.name] = (
                f"slow above {spec.max_rows:,} rows; ask for it with --models"
            )
            continue
        if defaults and budget is not None and spec.intervals:
            result.skipped[spec.name] = "samples a posterior, slowly; ask for it with --models"
            continue
        now, first = time.monotonic(), not result.candidates
        if not first and end is not None and now >= end:
            result.skipped[spec.name] = "time budget spent"
            continue
        if progress:
            if budget is None:
                progress(index, len(specs), spec.name)
            else:
                progress(int(now - started), int(budget), spec.name)
        candidate = Candidate(spec)
        deadline = end
        if end is not None and budget is not None and not first:
            deadline = min(end, now + _TRIAL_SHARE * budget)
        try:
            _run(
                candidate,
                folds,
                {},
                seed,
                deadline,
                workers,
                stop_early=budget is not None,
                kill=not first,
            )
        except _Cut:
            result.skipped[spec.name] = "time budget spent"
            continue
        except (ValueError, LearnError) as error:
            result.skipped[spec.name] = str(error).splitlines()[0]
            continue
        result.candidates.append(candidate)
        _report(result, started, standings, searched=budget is not None)
    if end is not None:
        _tune(result, folds, seed, started, end, workers, progress, standings)
        _stop_workers(workers)
    if progress:
        progress(len(specs), len(specs), "done")
    result.candidates.sort(key=lambda candidate: _score(candidate), reverse=True)
    return result


def _tune(
    result: SearchResult,
    folds: Folds,
    seed: int,
    started: float,
    end: float,
    workers: int,
    progress: Callable[[int, int, str], None] | None,
    standings: Standings | None,
) -> None:
    """Trials of the best ``_CONTENDERS`` searchable candidates in turn, until ``end``."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    budget = end - started
    turn = 0
    while True:
        now = time.monotonic()
        fits = [
            candidate
            for candidate in result.candidates
            if candidate.spec.name in SEARCH_SPACES and now + candidate.last_seconds < end
        ]
        if not fits:
            return
        contenders = sorted(fits, key=_score, reverse=True)[:_CONTENDERS]
        candidate = contenders[turn % len(contenders)]
        turn += 1
        if candidate.study is None:
            sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=5)
            candidate.study = optuna.create_study(direction="maximize", sampler=sampler)
        trial = candidate.study.ask()
        params = SEARCH_SPACES[candidate.spec.name](trial, folds.task)
        if progress:
            progress(int(now - started), int(budget), candidate.spec.name)
        try:
            deadline = min(end, now + _TRIAL_SHARE * budget)
            score = _run(
                candidate, folds, params, seed, deadline, workers, stop_early=True, kill=True
            )
        except _Cut:
            candidate.study.tell(trial, state=optuna.trial.TrialState.FAIL)
            continue
        except (ValueError, LearnError) as error:
            logger.info("trial of %s failed: %s", candidate.spec.name, error)
            candidate.study.tell(trial, state=optuna.trial.TrialState.FAIL)
            continue
        candidate.study.tell(trial, score)
        _report(result, started, standings, searched=True)


def _run(
    candidate: Candidate,
    folds: Folds,
    params: dict[str, Any],
    seed: int,
    deadline: float | None,
    workers: int,
    *,
    stop_early: bool,
    kill: bool,
) -> float:
    """Cross-validate ``params`` of ``candidate``; keep the trial if it is its best so far.

    With ``stop_early``, boosting models stop on each fold's held-out rows. Boosting stops its
    rounds at ``deadline``; with ``kill``, other models' workers are killed just after it.
    Returns the trial's score; raises ``_Cut`` when it was killed, or what a fold raised.
    """
    import numpy as np
    from joblib.externals.loky import get_reusable_executor

    started = time.monotonic()
    executor = get_reusable_executor(max_workers=workers)
    name, task = candidate.spec.name, folds.task
    stopping = stop_early and isinstance(backend_of(candidate.spec), StopsEarly)
    futures = [
        executor.submit(
            _fit_fold,
            name,
            task,
            seed,
            params,
            _rows(folds.X, train),
            folds.y[train],
            _rows(folds.X, valid),
            folds.y[valid] if stopping else None,
            deadline,
        )
        for train, valid in folds.splits
    ]
    timeout = None
    if kill and deadline is not None:
        timeout = max(0.0, deadline - time.monotonic()) + _KILL_GRACE
    try:
        done, pending = wait(futures, timeout=timeout, return_when=FIRST_EXCEPTION)
        if pending:
            executor.shutdown(wait=True, kill_workers=True)
        for future in done:
            if future.exception() is not None:
                raise future.exception()  # type: ignore[misc]
        if pending:
            raise _Cut
    finally:
        candidate.trials += 1
        candidate.last_seconds = time.monotonic() - started
    outcomes = [future.result() for future in futures]
    shape = (len(folds.y), len(folds.classes)) if task == "classification" else (len(folds.y),)
    predictions = np.zeros(shape)
    for (_, valid), (model, predicted, _) in zip(folds.splits, outcomes, strict=True):
        if task == "classification":
            columns = np.searchsorted(folds.classes, model.classes_)
            predictions[np.ix_(valid, columns)] = predicted
        else:
            predictions[valid] = predicted
    used = dict(params)
    rounds = [model.best_rounds_ for model, _, _ in outcomes if hasattr(model, "best_rounds_")]
    if rounds:
        used["n_estimators"] = int(np.mean(rounds))
    trial = Trial(
        used,
        [fold_score(folds, predictions, valid) for _, valid in folds.splits],
        float(np.mean([seconds for _, _, seconds in outcomes])),
        predictions,
        [model for model, _, _ in outcomes],
    )
    if candidate.best is None or trial.score > candidate.best.score:
        candidate.best = trial
    return trial.score


def _stop_workers(workers: int) -> None:
    """End the worker processes now rather than at exit, where a budget would wait for them."""
    from joblib.externals.loky import get_reusable_executor

    get_reusable_executor(max_workers=workers).shutdown(wait=False, kill_workers=True)


def _fit_fold(
    name: str,
    task: Task,
    seed: int,
    params: dict[str, Any],
    X_train: Any,
    y_train: Any,
    X_valid: Any,
    y_stop: Any,
    deadline: float | None,
) -> tuple[Model, Any, float]:
    """In a worker: fit one fold (stopping early on the held-out rows when ``y_stop`` is
    given) and predict its held-out rows; returns the model, predictions and fit seconds."""
    started = time.monotonic()
    model = Model(model=name, task=task, seed=seed, params=params or None)
    stopping = None if y_stop is None else EarlyStopping(X_valid, y_stop, deadline)
    model.fit(X_train, y_train, early_stopping=stopping)
    seconds = time.monotonic() - started
    predicted = model.predict_proba(X_valid) if task == "classification" else model.predict(X_valid)
    return model, predicted, seconds


def _rows(X: Any, rows: Any) -> Any:
    return X.iloc[rows] if hasattr(X, "iloc") else X[rows]


def _score(candidate: Candidate) -> float:
    return candidate.best.score if candidate.best is not None else float("-inf")


def _std(values: list[float]) -> float:
    import numpy as np

    return float(np.std(values))


def _report(
    result: SearchResult, started: float, standings: Standings | None, *, searched: bool
) -> None:
    if standings is not None:
        ranked = sorted(result.candidates, key=_score, reverse=True)
        standings(time.monotonic() - started, [candidate.entry(searched) for candidate in ranked])


@dataclass(frozen=True)
class Winner:
    """What ``compare`` saves: the fold models of the best candidate, or of an ensemble's
    members, with their weights; ``predictions`` are its out-of-fold predictions."""

    members: list[Model]
    weights: list[float]
    predictions: Any
    ensemble: LeaderboardEntry | None = None
    """The ensemble's leaderboard entry, when an ensemble won."""


def select_winner(result: SearchResult, folds: Folds, *, ensemble: bool) -> Winner:
    """The best candidate's fold models, or, with ``ensemble``, a greedy ensemble of the
    candidates' best trials when its cross-validated score beats the best candidate's."""
    import numpy as np

    from modelyard.learn.ensemble import greedy_selection

    ran = [candidate for candidate in result.candidates if candidate.best is not None]
    best = ran[0].best
    assert best is not None
    single = Winner(best.models, [1 / len(best.models)] * len(best.models), best.predictions)
    if not ensemble or len(ran) < 2:
        return single
    trials = [candidate.best for candidate in ran if candidate.best is not None]
    weights = greedy_selection(
        [trial.predictions for trial in trials], lambda blend: _quality(folds, blend)
    )
    blend = sum(weight * trial.predictions for weight, trial in zip(weights, trials, strict=True))
    scores = [fold_score(folds, blend, valid) for _, valid in folds.splits]
    if np.mean(scores) <= best.score:
        return single
    chosen = [(c, w) for c, w in zip(ran, weights, strict=True) if w > 0]
    entry = LeaderboardEntry(
        "ensemble",
        "ensemble",
        round(float(np.mean(scores)), 6),
        round(_std(scores), 6),
        round(sum(c.best.fit_seconds for c, _ in chosen if c.best is not None), 4),
        params={candidate.spec.name: round(weight, 4) for candidate, weight in chosen},
    )
    members, member_weights = [], []
    for candidate, weight in chosen:
        assert candidate.best is not None
        models = candidate.best.models
        members += models
        member_weights += [weight / len(models)] * len(models)
    return Winner(members, member_weights, blend, entry)


def out_of_fold_metrics(folds: Folds, predictions: Any) -> dict[str, float]:
    """Every metric of ``train``'s hold-out, computed on out-of-fold ``predictions``."""
    from modelyard.learn.metrics import classification_metrics, regression_metrics

    if folds.task == "classification":
        return classification_metrics(folds.codes, predictions.argmax(axis=1), predictions)
    return regression_metrics(folds.y.astype(float), predictions)


def _quality(folds: Folds, predictions: Any) -> tuple[float, ...]:
    """What greedy selection maximises: the metric, then (classes) the negated log loss."""
    import numpy as np

    everything = np.arange(len(folds.y))
    score = fold_score(folds, predictions, everything)
    if folds.task == "regression":
        return (score,)
    truth = predictions[everything, folds.codes]
    return (score, float(np.log(np.clip(truth, 1e-15, 1)).mean()))
