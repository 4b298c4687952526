"""``compare``'s engine: candidates cross-validated fold by fold in parallel processes and,
within a time budget, tuned with Optuna's TPE sampler, then ensembled from their out-of-fold
predictions.

Every trial runs its folds in worker processes (one per core, at most one per fold), started
once and warmed up before the first trial, and is cut at its deadline: boosting models stop
adding rounds (and keep the rounds they have), other models' workers are killed (and
restarted) and the trial is dropped. While the first trial runs, the main process
cross-validates a fast fallback on a subsample, so ``compare`` has a result even when the
first trial is cut; the search ends early enough for the final ensemble and package, whose
cost it measures on every candidate.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION, BrokenExecutor, wait
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from modelyard.learn.backends.base import StopsEarly
from modelyard.learn.ensemble import SELECTION_ROUNDS
from modelyard.learn.errors import LearnError
from modelyard.learn.model import Model
from modelyard.learn.models import backend_of, get_spec
from modelyard.learn.registry import EarlyStopping, ModelSpec, Task
from modelyard.learn.results import LeaderboardEntry
from modelyard.learn.spaces import SEARCH_SPACES
from modelyard.learn.workers import Workers

if TYPE_CHECKING:
    import optuna

logger = logging.getLogger(__name__)

Standings = Callable[[float, list[LeaderboardEntry]], None]
"""Called as ``standings(elapsed_seconds, leaderboard)`` after every trial of a budgeted search."""
Finishing = Callable[[list[Model]], None]
"""Does with a candidate's fold models what ``compare`` does with the winner's at the end (saves
them as a package), so the search can time it and keep that much of the budget for it."""

_TRIAL_SHARE = 0.3
"""A trial that starts once the first has run may use at most this share of the budget."""
_KILL_GRACE = 0.5
"""Seconds a trial's workers get past its deadline to return before they are killed."""
_CONTENDERS = 3
_FIRST_RESERVE = 0.15
"""The share of the budget the first trial leaves for the final step, before it is measured."""
_FALLBACK_ROWS = 1000
"""The fallback fits each fold on at most this many of its training rows."""
_FALLBACKS = ("sklearn.linear", "sklearn.tree")
"""Fast models the fallback prefers, when among the candidates; else it takes the first."""
"""The search spends its trials on the candidates ranked this high (by score) at the time."""
PRIORITY = (
    "lightgbm",
    "sklearn.hist_gradient_boosting",
    "xgboost",
    "sklearn.random_forest",
    "sklearn.extra_trees",
    "sklearn.linear",
    "sklearn.knn",
    "sklearn.mlp",
)
"""The models a budget is spent on first, strongest on most tables first (as AutoGluon)."""


def by_priority(specs: list[ModelSpec]) -> list[ModelSpec]:
    """``specs`` with those of ``PRIORITY`` first, in its order; the rest keep theirs."""
    rank = {name: index for index, name in enumerate(PRIORITY)}
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
    notes: list[str] = field(default_factory=list)
    """What the user should know about the result (a fallback took the first trial's place)."""


class _Cut(Exception):
    """A trial's deadline passed before its folds finished."""


class _WorkersBroke(_Cut):
    """The workers fitting a trial's folds broke: one died (killed, out of memory) or a result
    could not be sent back; the message is the pool's own."""


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
    workers: Workers | None = None,
    finishing: Finishing | None = None,
) -> SearchResult:
    """Run each candidate's default configuration, then, with a ``budget`` in seconds, tune
    the best few with TPE until the budget is spent.

    ``defaults`` says ``specs`` were not named by the user: models marked slow for this many
    rows are skipped, and so, with a budget, are Bayesian ones (sampling a posterior is slow).
    ``progress(done, total, what)`` counts candidates without a budget and seconds with one.
    ``workers`` are started here (and ended) unless given; the search keeps what
    ``finishing`` takes (timed on each candidate) and what selecting an ensemble takes of the
    budget for after it.
    """
    started = time.monotonic()
    end = None if budget is None else started + budget - _KILL_GRACE
    runnable = []
    result = SearchResult([])
    for spec in specs:
        if defaults and spec.max_rows is not None and len(folds.y) > spec.max_rows:
            result.skipped[spec.name] = (
                f"slow above {spec.max_rows:,} rows; ask for it with --models"
            )
        elif defaults and budget is not None and spec.intervals:
            result.skipped[spec.name] = "samples a posterior, slowly; ask for it with --models"
        else:
            runnable.append(spec)
    pool = workers or Workers(
        min(len(folds.splits), os.cpu_count() or 1), [spec.name for spec in runnable[:1]]
    )
    state = _Search(folds, seed, started, end, pool, finishing, result, standings)
    try:
        for index, spec in enumerate(runnable):
            now, first = time.monotonic(), not result.candidates
            if not first and now >= state.end:
                result.skipped[spec.name] = "time budget spent"
                continue
            if progress:
                if budget is None:
                    progress(index, len(runnable), spec.name)
                else:
                    progress(int(now - started), int(budget), spec.name)
            candidate = Candidate(spec)
            deadline = state.end
            if budget is not None and first:
                deadline -= _FIRST_RESERVE * budget
            elif budget is not None:
                deadline = min(state.end, now + _TRIAL_SHARE * budget)
            meanwhile = None
            if first and budget is not None and state.fallback is None:

                def meanwhile() -> None:
                    state.prepare_fallback(runnable)

            try:
                state.run(
                    candidate, {}, deadline, stop_early=budget is not None, meanwhile=meanwhile
                )
            except _WorkersBroke as error:
                result.skipped[spec.name] = f"its worker broke: {error}"
                continue
            except _Cut:
                result.skipped[spec.name] = "time budget spent"
                if first and state.fallback is not None:
                    state.keep(state.fallback)
                    result.notes.append(
                        "no candidate finished within the time budget: "
                        f"{state.fallback.spec.name} was fitted on at most "
                        f"{_FALLBACK_ROWS:,} training rows of each fold"
                    )
                continue
            except (ValueError, LearnError) as error:
                result.skipped[spec.name] = str(error).splitlines()[0]
                continue
            state.keep(candidate)
        state.tuning = True
        if end is not None:
            _tune(state, progress)
    finally:
        if workers is None:
            pool.close()
    if progress:
        progress(len(runnable), len(runnable), "done")
    result.candidates.sort(key=lambda candidate: _score(candidate), reverse=True)
    return result


@dataclass
class _Search:
    """A search under way: what every trial needs, and the time it must leave at the end.

    With a budget, what ``finishing`` takes is timed on each candidate kept, in this process
    while the next trial runs (the fallback's while the first runs); a candidate not yet
    timed, or running for the first time, is counted as the slowest timed so far. The search
    keeps what finishing the members of the ensemble greedy selection would pick now takes,
    plus the dearest other candidate (it may join) and, before tuning, the one running, plus
    the selection itself.
    """

    folds: Folds
    seed: int
    started: float
    budget_end: float | None
    workers: Workers
    finishing: Finishing | None
    result: SearchResult
    standings: Standings | None
    fallback: Candidate | None = None
    """Cross-validated while the first trial runs, in case it is cut."""
    tuning: bool = False
    """Every candidate has run its defaults."""
    selecting_seconds: float = 0.0
    """What scoring one blend takes; greedy selection scores many."""
    finish_seconds: dict[str, float] = field(default_factory=dict)
    """What ``finishing`` took, by candidate (and the fallback's)."""
    members: set[str] = field(default_factory=set)
    """The candidates an ensemble selected now would hold."""

    @property
    def end(self) -> float:
        """When trials must be done: the budget's end less the measured final step."""
        if self.budget_end is None:
            return float("inf")
        candidates = self.result.candidates
        slowest = max(self.finish_seconds.values(), default=0.0)
        costs = {
            candidate.spec.name: self.finish_seconds.get(candidate.spec.name, slowest)
            for candidate in candidates
        }
        others = [cost for name, cost in costs.items() if name not in self.members]
        running = 0.0 if self.tuning else slowest  # a candidate's first trial, untimed
        finishing = (
            sum(costs.get(name, 0.0) for name in self.members) + max(others, default=0.0) + running
        )
        selecting = self.selecting_seconds * (SELECTION_ROUNDS * (len(candidates) + 1) + 1)
        return self.budget_end - finishing - selecting

    def prepare_fallback(self, specs: list[ModelSpec]) -> None:
        """Cross-validate the fallback, and time scoring a blend and ``finishing`` on it."""
        self.fallback = _fallback(self.folds, specs, self.seed)
        if self.fallback is not None:
            self._time(self.fallback)

    def run(
        self,
        candidate: Candidate,
        params: dict[str, Any],
        deadline: float,
        *,
        stop_early: bool,
        meanwhile: Callable[[], None] | None = None,
    ) -> float:
        """``_run`` on this search's folds and workers, doing ``meanwhile`` (by default: timing
        untimed candidates) while it runs; the trial is cut at ``deadline`` or, unless it does
        ``meanwhile`` (the first trial, whose deadline was set before anything was measured),
        the search's end, whichever comes first. The workers of a cut trial are killed (and,
        if time is left, restarted)."""
        return _run(
            candidate,
            self.folds,
            params,
            self.seed,
            None if self.budget_end is None else deadline,
            self.workers,
            stop_early=stop_early,
            kill=self.budget_end is not None,
            restart=time.monotonic() < self.end,
            meanwhile=meanwhile or self._time_untimed,
            limit=None if meanwhile else lambda: self.end,
        )

    def keep(self, candidate: Candidate) -> None:
        """Add a candidate that ran."""
        self.result.candidates.append(candidate)
        self.select()
        _report(self.result, self.started, self.standings, searched=self.budget_end is not None)

    def select(self) -> None:
        """With a budget, note which candidates greedy selection would pick now."""
        from modelyard.learn.ensemble import greedy_selection

        ran = [candidate for candidate in self.result.candidates if candidate.best is not None]
        if self.budget_end is None or not ran:
            return
        weights = greedy_selection(
            [candidate.best.predictions for candidate in ran if candidate.best is not None],
            lambda blend: _quality(self.folds, blend),
        )
        self.members = {
            candidate.spec.name for candidate, weight in zip(ran, weights, strict=True) if weight
        }

    def _time_untimed(self) -> None:
        if self.budget_end is not None:
            for candidate in self.result.candidates:
                if candidate.spec.name not in self.finish_seconds:
                    self._time(candidate)

    def _time(self, candidate: Candidate) -> None:
        assert candidate.best is not None
        if not self.selecting_seconds:
            started = time.monotonic()
            _quality(self.folds, candidate.best.predictions)
            self.selecting_seconds = time.monotonic() - started
        started = time.monotonic()
        if self.finishing is not None:
            self.finishing(candidate.best.models)
        self.finish_seconds[candidate.spec.name] = time.monotonic() - started


def _fallback(folds: Folds, specs: list[ModelSpec], seed: int) -> Candidate | None:
    """The fastest of ``specs`` cross-validated in this process on at most ``_FALLBACK_ROWS``
    training rows per fold (``None`` when it fails)."""
    import numpy as np

    names = [spec.name for spec in specs]
    spec = next((get_spec(name) for name in _FALLBACKS if name in names), specs[0])
    candidate = Candidate(spec)
    generator = np.random.default_rng(seed)
    outcomes = []
    try:
        for train, valid in folds.splits:
            if len(train) > _FALLBACK_ROWS:
                train = np.sort(generator.choice(train, _FALLBACK_ROWS, replace=False))
            X_train, X_valid = _rows(folds.X, train), _rows(folds.X, valid)
            outcomes.append(
                _fit_fold(
                    spec.name, folds.task, seed, {}, X_train, folds.y[train], X_valid, None, None
                )
            )
    except (ValueError, LearnError) as error:
        logger.info("the fallback %s failed: %s", spec.name, error)
        return None
    candidate.trials = 1
    candidate.best = _trial(folds, {}, outcomes)
    return candidate


def _tune(search: _Search, progress: Callable[[int, int, str], None] | None) -> None:
    """Trials of the best ``_CONTENDERS`` searchable candidates in turn, until the search's end."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    assert search.budget_end is not None
    budget = search.budget_end - search.started
    turn = 0
    while True:
        now, end = time.monotonic(), search.end
        fits = [
            candidate
            for candidate in search.result.candidates
            if candidate.spec.name in SEARCH_SPACES and now + candidate.last_seconds < end
        ]
        if not fits:
            return
        contenders = sorted(fits, key=_score, reverse=True)[:_CONTENDERS]
        candidate = contenders[turn % len(contenders)]
        turn += 1
        if candidate.study is None:
            sampler = optuna.samplers.TPESampler(seed=search.seed, n_startup_trials=5)
            candidate.study = optuna.create_study(direction="maximize", sampler=sampler)
        trial = candidate.study.ask()
        rows = len(search.folds.splits[0][0])
        params = SEARCH_SPACES[candidate.spec.name](trial, search.folds.task, rows)
        if progress:
            progress(int(now - search.started), int(budget), candidate.spec.name)
        try:
            deadline = min(end, now + _TRIAL_SHARE * budget)
            score = search.run(candidate, params, deadline, stop_early=True)
        except _Cut:
            candidate.study.tell(trial, state=optuna.trial.TrialState.FAIL)
            continue
        except (ValueError, LearnError) as error:
            logger.info("trial of %s failed: %s", candidate.spec.name, error)
            candidate.study.tell(trial, state=optuna.trial.TrialState.FAIL)
            continue
        candidate.study.tell(trial, score)
        if candidate.best is not None and score == candidate.best.score:
            search.select()
        _report(search.result, search.started, search.standings, searched=True)


def _run(
    candidate: Candidate,
    folds: Folds,
    params: dict[str, Any],
    seed: int,
    deadline: float | None,
    workers: Workers,
    *,
    stop_early: bool,
    kill: bool,
    restart: bool = True,
    meanwhile: Callable[[], None] | None = None,
    limit: Callable[[], float] | None = None,
) -> float:
    """Cross-validate ``params`` of ``candidate``; keep the trial if it is its best so far.

    With ``stop_early``, boosting models stop on each fold's held-out rows. Boosting stops its
    rounds at ``deadline``; with ``kill``, other models' workers are killed just after it, or
    after ``limit()`` when that is earlier (and, with ``restart``, started afresh).
    ``meanwhile`` runs in this process while the folds fit.
    Returns the trial's score; raises ``_Cut`` when it was killed at its deadline,
    ``_WorkersBroke`` when its workers broke, or what a fold raised.
    """
    started = time.monotonic()
    name, task = candidate.spec.name, folds.task
    stopping = stop_early and isinstance(backend_of(candidate.spec), StopsEarly)
    futures = [
        workers.submit(
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
    try:
        if meanwhile is not None:
            meanwhile()
        timeout = None
        if kill and deadline is not None:
            cut = min(deadline, limit()) if limit is not None else deadline
            timeout = max(0.0, cut - time.monotonic()) + _KILL_GRACE
        done, pending = wait(futures, timeout=timeout, return_when=FIRST_EXCEPTION)
        errors = [future.exception() for future in done]
        broken = next((error for error in errors if isinstance(error, BrokenExecutor)), None)
        if pending or broken is not None:
            workers.kill(restart=restart)
        for error in errors:
            if error is not None and not isinstance(error, BrokenExecutor):
                raise error
        if broken is not None:
            raise _WorkersBroke(str(broken).splitlines()[0]) from broken
        if pending:
            raise _Cut
    finally:
        candidate.trials += 1
        candidate.last_seconds = time.monotonic() - started
    trial = _trial(folds, params, [future.result() for future in futures])
    if candidate.best is None or trial.score > candidate.best.score:
        candidate.best = trial
    return trial.score


def _trial(folds: Folds, params: dict[str, Any], outcomes: list[tuple[Model, Any, float]]) -> Trial:
    """The trial of ``params`` from its folds' models, predictions and fit seconds."""
    import numpy as np

    task = folds.task
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
    return Trial(
        used,
        [fold_score(folds, predictions, valid) for _, valid in folds.splits],
        float(np.mean([seconds for _, _, seconds in outcomes])),
        predictions,
        [model for model, _, _ in outcomes],
    )


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
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    started = time.monotonic()
    model = Model(model=name, task=task, seed=seed, params=params or None)
    stopping = None if y_stop is None else EarlyStopping(X_valid, y_stop, deadline)
    with warnings.catch_warnings():
        # a configuration that has not converged is scored as it is, like any other
        warnings.simplefilter("ignore", ConvergenceWarning)
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
