"""Bayesian linear and logistic regression on PyMC, saved as posterior draws in safetensors.

Only fitting needs PyMC. A package holds the draws (no pickle, no netCDF) and prediction is
numpy over them, so loading and predicting run where PyMC is not installed: the backend counts
as available whenever safetensors is, and fitting without PyMC says how to install it.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sklearn.base import BaseEstimator

from modelyard.learn.errors import ConvergenceWarning, LearnError
from modelyard.learn.registry import Inference, ModelSpec, Task
from modelyard.runtime import configure_pytensor

NAME = "pymc"
_FILE = "posterior.safetensors"
# Weakly-informative priors on whitened features (and, for regression, standardized target), as
# rstanarm's defaults: coefficients and intercept Normal(0, 2.5), noise scale Exponential(1).
_PRIOR_SCALE = 2.5
_MAX_R_HAT = 1.01
# Posterior draws times rows (times classes) evaluated at once when predicting.
_CHUNK_CELLS = 1 << 22


def available() -> bool:
    return importlib.util.find_spec("safetensors") is not None


class BayesianGLM(BaseEstimator):
    """A linear model with a posterior: Normal likelihood for regression, logistic
    (binary) or softmax (multiclass, first class as reference) for classification.

    ``inference`` is ``"nuts"`` (``chains`` chains of ``draws`` after ``tune`` warm-up steps)
    or ``"advi"`` (at most ``advi_steps`` steps, then ``draws * chains`` draws). Targets are
    class codes ``0..k-1`` (classification) or numbers (regression).
    """

    def __init__(
        self,
        task: Task = "regression",
        inference: Inference = "nuts",
        draws: int = 1000,
        tune: int = 1000,
        chains: int = 2,
        advi_steps: int = 20_000,
        seed: int = 0,
    ) -> None:
        self.task = task
        self.inference = inference
        self.draws = draws
        self.tune = tune
        self.chains = chains
        self.advi_steps = advi_steps
        self.seed = seed

    # -- fitting (PyMC) ------------------------------------------------------------------------

    def fit(self, X: Any, y: Any) -> BayesianGLM:
        import numpy as np

        X = np.asarray(X, dtype="float64")
        y = np.asarray(y)
        center, rotation = _whitening(X)
        Z = (X - center) @ rotation
        with _quiet_pymc():
            pm = _pymc()
            if self.task == "classification":
                self.n_classes_ = int(y.max()) + 1
                model = _logistic_model(pm, Z, y.astype("int64"), self.n_classes_)
            else:
                mean, scale = float(y.mean()), float(y.std() or 1.0)
                model = _linear_model(pm, Z, (y - mean) / scale)
            posterior, diagnostics = self._sample(pm, model)
        # Back from whitened to the features' own coefficients, intercept at zero features.
        coef = np.einsum("pk,sk...->sp...", rotation, posterior["coef"])
        intercept = posterior["intercept"] - np.einsum("p,sp...->s...", center, coef)
        if self.task == "classification":  # the reference class's parameters are zero
            coef = np.concatenate([np.zeros((*coef.shape[:2], 1)), coef], axis=2)
            intercept = np.concatenate([np.zeros((len(intercept), 1)), intercept], axis=1)
            self.sigma_ = np.zeros(0)
        else:
            coef, intercept = coef * scale, intercept * scale + mean
            self.sigma_ = posterior["sigma"] * scale
        self.coef_, self.intercept_ = coef, intercept
        self.diagnostics_ = diagnostics
        r_hat = diagnostics.get("r_hat_max", 1.0)
        if r_hat > _MAX_R_HAT:
            warnings.warn(
                f"the posterior did not converge: r-hat {r_hat:.3f} exceeds {_MAX_R_HAT} "
                "(train with more draws, or check the data for collinear columns)",
                ConvergenceWarning,
                stacklevel=2,
            )
        return self

    def _sample(self, pm: Any, model: Any) -> tuple[dict[str, Any], dict[str, float]]:
        """The posterior draws, chains stacked, and their convergence diagnostics."""
        import arviz

        with model:
            if self.inference == "advi":
                approximation = pm.fit(
                    n=self.advi_steps,
                    method="advi",
                    random_seed=self.seed,
                    progressbar=False,
                    callbacks=[pm.callbacks.CheckParametersConvergence()],
                )
                trace = approximation.sample(self.draws * self.chains, random_seed=self.seed)
                diagnostics: dict[str, float] = {}
            else:
                trace = pm.sample(
                    draws=self.draws,
                    tune=self.tune,
                    chains=self.chains,
                    cores=1,
                    random_seed=self.seed,
                    progressbar=False,
                    compute_convergence_checks=False,
                )
                diagnostics = {
                    "r_hat_max": float(arviz.rhat(trace).to_array().max()),
                    "ess_bulk_min": float(arviz.ess(trace, method="bulk").to_array().min()),
                    "ess_tail_min": float(arviz.ess(trace, method="tail").to_array().min()),
                }
        stacked = trace.posterior.stack(sample=("chain", "draw"))
        draws = {
            name: stacked[name].transpose("sample", ...).to_numpy() for name in stacked.data_vars
        }
        return draws, diagnostics

    # -- predicting (numpy) --------------------------------------------------------------------

    def predict(self, X: Any) -> Any:
        """Posterior-mean values (linear in the draws, so from the mean draw), or the class
        with the highest posterior-mean probability."""
        import numpy as np

        if self.task == "classification":
            return self.predict_proba(X).argmax(axis=1)
        return np.asarray(X, dtype="float64") @ self.coef_.mean(axis=0) + self.intercept_.mean()

    def predict_proba(self, X: Any) -> Any:
        """Posterior-mean class probabilities."""
        return self._over_draws(X, lambda probabilities: probabilities.mean(axis=0))

    def predict_interval(self, X: Any, level: float) -> tuple[Any, Any]:
        """Central ``level`` intervals: of the posterior predictive for regression, of each
        class probability (shape ``(rows, classes)``) for classification."""
        import numpy as np

        levels = [(1 - level) / 2, (1 + level) / 2]

        def bounds(values: Any) -> Any:  # rows first, the two bounds last
            return np.moveaxis(np.quantile(values, levels, axis=0), 0, -1)

        if self.task == "classification":
            both = self._over_draws(X, bounds)
        else:
            noise = self.sigma_[:, None] * self._noise()[:, None]
            both = self._over_draws(X, lambda mean: bounds(mean + noise))
        return both[..., 0], both[..., 1]

    def _noise(self) -> Any:
        """One standard normal value per draw: evenly spaced quantiles in a seeded order, so
        the same package gives the same intervals for a row whatever else is predicted."""
        import numpy as np
        from scipy.special import ndtri

        count = len(self.sigma_)
        quantiles = ndtri((np.arange(count) + 0.5) / count)
        return np.random.default_rng(self.seed).permutation(quantiles)

    def _over_draws(self, X: Any, reduce: Any) -> Any:
        """``reduce`` over draws of the per-draw means (regression) or class probabilities
        (classification), row chunk by row chunk to bound memory."""
        import numpy as np

        X = np.asarray(X, dtype="float64")
        classes = self.coef_.shape[2] if self.coef_.ndim == 3 else 1
        step = max(1, _CHUNK_CELLS // (len(self.coef_) * classes))
        parts = []
        for start in range(0, max(len(X), 1), step):  # one empty chunk for no rows
            rows = X[start : start + step]
            if self.task == "classification":
                logits = np.einsum("np,spk->snk", rows, self.coef_) + self.intercept_[:, None, :]
                logits -= logits.max(axis=2, keepdims=True)
                odds = np.exp(logits)
                parts.append(reduce(odds / odds.sum(axis=2, keepdims=True)))
            else:
                parts.append(reduce(self.coef_ @ rows.T + self.intercept_[:, None]))
        return np.concatenate(parts)


def _whitening(X: Any) -> tuple[Any, Any]:
    """Column means and a ``(features, k)`` map to ``k`` uncorrelated, unit-variance directions
    spanning the centered features (as rstanarm's ``QR = TRUE``). NUTS samples such a posterior
    many times faster, and redundant columns (one-hot categories beside the intercept) drop out.
    """
    import numpy as np

    center = X.mean(axis=0)
    _, singular, basis = np.linalg.svd(X - center, full_matrices=False)
    keep = singular > max(singular.max(initial=0.0), 1.0) * 1e-8
    return center, basis[keep].T * (np.sqrt(len(X)) / singular[keep])


def _pymc() -> Any:
    try:
        configure_pytensor()
        import pymc
    except ImportError:
        raise LearnError(
            "pymc models train with PyMC, which is not installed",
            hint='pip install "modelyard[bayes]" (loading and predicting do not need it)',
        ) from None
    if not logging.root.handlers:  # PyMC then logs each sampling step to stderr itself
        logging.getLogger("pymc").setLevel(logging.WARNING)
    return pymc


@contextmanager
def _quiet_pymc() -> Iterator[None]:
    """Silence PyMC's and ArviZ' notices: no BLAS found, the ArviZ refactor, overflow while
    NUTS tunes its step size."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=RuntimeWarning, module="pymc")
        warnings.filterwarnings("ignore", message=".*could not link to a BLAS")
        warnings.filterwarnings("ignore", category=FutureWarning, module="arviz")
        yield


def _linear_model(pm: Any, X: Any, y: Any) -> Any:
    with pm.Model() as model:
        features = pm.Data("X", X)
        target = pm.Data("y", y)
        coef = pm.Normal("coef", 0, _PRIOR_SCALE, shape=X.shape[1])
        intercept = pm.Normal("intercept", 0, _PRIOR_SCALE)
        sigma = pm.Exponential("sigma", 1.0)
        pm.Normal("likelihood", intercept + pm.math.dot(features, coef), sigma, observed=target)
    return model


def _logistic_model(pm: Any, X: Any, y: Any, classes: int) -> Any:
    """Free parameters for every class but the first, whose logit is fixed at zero."""
    with pm.Model() as model:
        features = pm.Data("X", X)
        target = pm.Data("y", y)
        coef = pm.Normal("coef", 0, _PRIOR_SCALE, shape=(X.shape[1], classes - 1))
        intercept = pm.Normal("intercept", 0, _PRIOR_SCALE, shape=classes - 1)
        logits = intercept + pm.math.dot(features, coef)
        if classes == 2:
            pm.Bernoulli("likelihood", logit_p=logits[:, 0], observed=target)
        else:
            zeros = pm.math.zeros((X.shape[0], 1))
            full = pm.math.concatenate([zeros, logits], axis=1)
            pm.Categorical("likelihood", logit_p=full, observed=target)
    return model


def _linear(task: Task, seed: int) -> BayesianGLM:
    return BayesianGLM(task="regression", seed=seed)


def _logistic(task: Task, seed: int) -> BayesianGLM:
    return BayesianGLM(task="classification", seed=seed)


def model_specs() -> list[ModelSpec]:
    # NUTS grows with the rows; above this many, compare leaves them out unless asked.
    common: dict[str, Any] = {"needs_scaling": True, "intervals": True, "max_rows": 10_000}
    return [
        ModelSpec(
            "pymc.logistic",
            NAME,
            frozenset({"classification"}),
            _logistic,
            "Bayesian logistic regression (PyMC), with probability intervals",
            **common,
        ),
        ModelSpec(
            "pymc.linear",
            NAME,
            frozenset({"regression"}),
            _linear,
            "Bayesian linear regression (PyMC), with prediction intervals",
            **common,
        ),
    ]


def fit_estimator(estimator: Any, X: Any, y: Any, categorical: list[int]) -> Any:
    """Fit; categories arrive one-hot encoded, so ``categorical`` is not needed."""
    return estimator.fit(X, y)


def save_estimator(estimator: Any, directory: Path) -> list[str]:
    from safetensors.numpy import save_file

    tensors = {"coef": estimator.coef_, "intercept": estimator.intercept_}
    if estimator.task == "regression":
        tensors["sigma"] = estimator.sigma_
    metadata = {
        "task": estimator.task,
        "inference": estimator.inference,
        "seed": str(estimator.seed),
        "diagnostics": json.dumps(estimator.diagnostics_),
    }
    save_file(
        {name: array.copy(order="C") for name, array in tensors.items()},
        directory / _FILE,
        metadata,
    )
    return [_FILE]


def load_estimator(directory: Path, task: Task) -> BayesianGLM:
    import numpy as np
    from safetensors import safe_open

    with safe_open(str(directory / _FILE), framework="numpy") as handle:
        metadata = handle.metadata()
        tensors = {name: handle.get_tensor(name) for name in handle.keys()}  # noqa: SIM118
    estimator = BayesianGLM(task=task, inference=metadata["inference"], seed=int(metadata["seed"]))
    estimator.coef_, estimator.intercept_ = tensors["coef"], tensors["intercept"]
    estimator.sigma_ = tensors.get("sigma", np.zeros(0))
    estimator.diagnostics_ = json.loads(metadata["diagnostics"])
    if task == "classification":
        estimator.n_classes_ = estimator.coef_.shape[2]
    return estimator
