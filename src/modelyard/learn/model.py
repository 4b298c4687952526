"""``Model``: one scikit-learn estimator over every backend, preprocessing included."""

from __future__ import annotations

import warnings
from typing import Any

from sklearn.base import BaseEstimator
from sklearn.exceptions import DataConversionWarning
from sklearn.utils.metaestimators import available_if

from modelyard.data.errors import UnreadableDataError
from modelyard.data.schema import ColumnKind, Schema, infer_schema
from modelyard.learn.backends.base import StopsEarly
from modelyard.learn.errors import LearnError, NotFittedError
from modelyard.learn.models import DEFAULT_MODEL, all_specs, backend_of, get_spec
from modelyard.learn.preprocess import build_preprocessor, build_sparse_preprocessor
from modelyard.learn.registry import (
    EarlyStopping,
    EpochProgress,
    Inference,
    ModelSpec,
    TaskOrAuto,
)
from modelyard.learn.task import resolve_task
from modelyard.learn.validation import INFERENCES, SEEDS, TASKS, Interval, check_param

_DENSE_LIMIT = 50_000_000  # cells; sparse data is densified for dense-only models up to this


def _can_classify(model: Model) -> bool:
    """``predict_proba`` exists unless the model is (or was trained as) a regressor."""
    return getattr(model, "task_", model.task) != "regression"


class Model(BaseEstimator):
    """Train any registered model with the preprocessing it needs.

    ``model`` names an entry of the registry (``modelyard models``), ``task`` is
    ``"auto"``, ``"classification"`` or ``"regression"``, ``seed`` makes training repeatable,
    ``params`` sets hyperparameters of the model's estimator (its ``set_params`` names).
    ``fit`` accepts a pandas frame, a numpy array (2-D tables, or n-D for image and sequence
    models) or a scipy sparse matrix; class labels may be any values and come back as given.
    """

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        task: TaskOrAuto = "auto",
        seed: int = 0,
        params: dict[str, Any] | None = None,
    ) -> None:
        self.model = model
        self.task = task
        self.seed = seed
        self.params = params

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True  # missing values are imputed
        tags.input_tags.sparse = True
        if self.task == "classification":
            from sklearn.utils import ClassifierTags

            tags.estimator_type = "classifier"
            tags.classifier_tags = ClassifierTags()
        elif self.task == "regression":
            from sklearn.utils import RegressorTags

            tags.estimator_type = "regressor"
            tags.regressor_tags = RegressorTags()
        return tags

    # -- fitting -------------------------------------------------------------------------------

    def fit(
        self,
        X: Any,
        y: Any,
        progress: EpochProgress | None = None,
        inference: Inference | None = None,
        early_stopping: EarlyStopping | None = None,
    ) -> Model:
        """Train on ``X`` and ``y``; ``progress(epoch, epochs, logs)`` reports each epoch of
        models that train in epochs (Keras); ``inference`` picks how Bayesian models (pymc)
        draw their posterior (default NUTS); ``early_stopping`` gives boosting models rows to
        stop on (other models ignore it), and ``best_rounds_`` then holds the rounds kept."""
        import numpy as np

        check_param("Model", "task", self.task, TASKS)
        check_param("Model", "seed", self.seed, SEEDS)
        check_param("Model.fit", "inference", inference, INFERENCES, None)
        spec = get_spec(self.model)
        X, kind = _as_input(X, spec)
        if X.shape[0] == 0:
            raise LearnError("the data has no rows")
        y = np.asarray(y)
        if y.ndim == 2 and y.shape[1] == 1:
            warnings.warn(
                "A column-vector y was passed when a 1d array was expected; it was flattened",
                DataConversionWarning,
                stacklevel=2,
            )
            y = y.ravel()
        if y.ndim != 1 or len(y) != X.shape[0]:
            raise LearnError(f"y must be one value per row ({X.shape[0]} rows), got {y.shape}")
        task = resolve_task(self.task, y, "y")
        if task not in spec.tasks:
            raise LearnError(f"{spec.name} does not do {task}")
        if task == "classification" and _is_continuous(y):
            raise LearnError(
                "Unknown label type: continuous values cannot be classes",
                hint="use task='regression'",
            )
        keep = ~_missing(y)
        X = X.loc[keep] if kind == "table" else X[keep]
        y = y[keep]
        self.task_ = task
        self.spec_ = spec
        self.input_kind_ = kind
        self.n_features_in_ = X.shape[1] if X.ndim == 2 else int(np.prod(X.shape[1:]))
        if task == "classification":
            labels = y.astype(str) if y.dtype == object else y
            self.classes_, target = np.unique(labels, return_inverse=True)
        else:
            target = y.astype("float64")
        features, categorical = self._fit_preprocessing(X, target, spec)
        estimator = spec.factory(task, self.seed)
        if self.params:
            estimator.set_params(**self.params)
        if progress is not None and "progress" in estimator.get_params():
            estimator.set_params(progress=progress)
        if inference is not None:
            if "inference" not in estimator.get_params():
                raise LearnError(
                    f"{spec.name} has no choice of inference",
                    hint=f"models with one: {_bayesian()}",
                )
            estimator.set_params(inference=inference)
        backend = backend_of(spec)
        if early_stopping is not None and isinstance(backend, StopsEarly):
            valid = self._validation_rows(early_stopping)
            self.estimator_ = backend.fit_stopping_early(
                estimator,
                features,
                target,
                categorical,
                valid,
                early_stopping.deadline,
                early_stopping.patience,
            )
            self.best_rounds_ = backend.best_rounds(self.estimator_)
        else:
            self.estimator_ = backend.fit_estimator(estimator, features, target, categorical)
        return self

    def _validation_rows(self, early_stopping: EarlyStopping) -> tuple[Any, Any]:
        """``early_stopping``'s rows as the estimator sees them (classes it knows only)."""
        import numpy as np

        X, kind = _as_input(
            early_stopping.X, self.spec_, columns=getattr(self, "feature_names_in_", None)
        )
        y = np.asarray(early_stopping.y)
        if self.task_ == "classification":
            labels = y.astype(str) if y.dtype == object else y
            keep = np.isin(labels, self.classes_)
            y = np.searchsorted(self.classes_, labels[keep])
        else:
            keep = ~_missing(y)
            y = y[keep].astype("float64")
        X = X.loc[keep] if kind == "table" else X[keep]
        features = X if self.preprocessor_ is None else self.preprocessor_.transform(X)
        return features, y

    def _fit_preprocessing(self, X: Any, target: Any, spec: ModelSpec) -> tuple[Any, list[int]]:
        if self.input_kind_ == "table":
            self.schema_: Schema | None = infer_schema(X)
            if not self.schema_.columns:
                raise UnreadableDataError(
                    "no usable feature columns",
                    hint=f"dropped: {self.schema_.dropped}" if self.schema_.dropped else None,
                )
            self.feature_names_in_ = list(map(str, X.columns))
            levels = {name: X[name].nunique() for name in self.schema_.of(ColumnKind.CATEGORICAL)}
            self.preprocessor_, categorical = build_preprocessor(
                self.schema_, spec, levels=levels, seed=self.seed
            )
        elif self.input_kind_ == "sparse":
            self.schema_ = None
            self.preprocessor_, categorical = build_sparse_preprocessor(spec), []
        else:
            self.schema_ = None
            self.preprocessor_, categorical = None, []
        if self.preprocessor_ is None:
            return X, categorical
        return self.preprocessor_.fit_transform(X, target), categorical

    # -- using ---------------------------------------------------------------------------------

    def transform_features(self, X: Any) -> Any:
        """Apply the fitted preprocessing to raw rows."""
        self._check_fitted()
        X, kind = _as_input(X, self.spec_, columns=getattr(self, "feature_names_in_", None))
        if kind == "sparse" and self.input_kind_ == "sparse" and X.shape[1] != self.n_features_in_:
            raise LearnError(
                f"the data has {X.shape[1]} features but the model was trained on "
                f"{self.n_features_in_}"
            )
        return X if self.preprocessor_ is None else self.preprocessor_.transform(X)

    def predict(self, X: Any) -> Any:
        """Predicted labels (classification, as given to ``fit``) or values (regression)."""
        features = self.transform_features(X)
        predicted = self.estimator_.predict(features)
        if self.task_ == "classification":
            import numpy as np

            predicted = np.asarray(predicted).ravel()
            if predicted.dtype.kind in "OUS":  # an exported model names the classes (as text)
                index = {str(label): position for position, label in enumerate(self.classes_)}
                predicted = np.array([index[str(label)] for label in predicted])
            return self.classes_[predicted.astype(int)]
        return predicted

    @available_if(_can_classify)
    def predict_proba(self, X: Any) -> Any:
        """Class probabilities, one column per entry of ``classes_``."""
        self._check_fitted()
        if self.task_ != "classification":
            raise LearnError("predict_proba needs a classification model")
        return self.estimator_.predict_proba(self.transform_features(X))

    def predict_interval(self, X: Any, level: float) -> tuple[Any, Any]:
        """Central ``level`` posterior intervals (lower, upper): of the predicted values for
        regression, of each class probability (one column per class) for classification."""
        self._check_fitted()
        check_param("predict_interval", "level", level, Interval(0, 1, closed="neither"))
        if not self.spec_.intervals:
            raise LearnError(
                f"{self.model} gives no prediction intervals", hint=f"models that do: {_bayesian()}"
            )
        return self.estimator_.predict_interval(self.transform_features(X), level)  # type: ignore[no-any-return]

    @property
    def diagnostics(self) -> dict[str, float]:
        """Convergence diagnostics of Bayesian models (r-hat, effective sample size)."""
        self._check_fitted()
        return dict(getattr(self.estimator_, "diagnostics_", {}))

    def score(self, X: Any, y: Any, sample_weight: Any = None) -> float:
        """Accuracy for classification, R² for regression."""
        from sklearn.metrics import accuracy_score, r2_score

        predicted = self.predict(X)
        if self.task_ == "classification":
            import numpy as np

            expected = np.asarray(y)
            expected = expected.astype(str) if self.classes_.dtype.kind in "UO" else expected
            return float(accuracy_score(expected, predicted, sample_weight=sample_weight))
        return float(r2_score(y, predicted, sample_weight=sample_weight))

    @property
    def backend(self) -> str:
        return get_spec(self.model).backend

    @property
    def dropped_columns(self) -> dict[str, str]:
        """Columns left out at ``fit`` (ID-like, empty, constant) and why."""
        schema: Schema | None = getattr(self, "schema_", None)
        return dict(schema.dropped) if schema else {}

    def _check_fitted(self) -> None:
        if not hasattr(self, "estimator_"):
            raise NotFittedError("the model is not trained yet", hint="call fit first")


def _bayesian() -> str:
    """The installed models with posterior intervals (and a choice of inference)."""
    return ", ".join(spec.name for spec in all_specs() if spec.intervals)


def _is_continuous(y: Any) -> bool:
    import numpy as np

    if y.dtype.kind != "f":
        return False
    present = y[~np.isnan(y)]
    return bool(np.any(present != np.round(present)))


def _missing(y: Any) -> Any:
    import pandas as pd

    return pd.isna(y)


def _as_input(X: Any, spec: ModelSpec, columns: list[str] | None = None) -> tuple[Any, str]:
    """The data as the model takes it: a frame (tables), CSR (sparse) or an n-D array."""
    import numpy as np
    import pandas as pd
    import scipy.sparse

    if spec.backend == "onnx" and isinstance(X, pd.DataFrame):
        return X, "table"  # an exported table's ONNX model takes its columns by name
    if spec.data == "array":
        array = np.asarray(X)
        if array.ndim < 2:
            raise LearnError(f"{spec.name} needs at least 2-D input, got shape {array.shape}")
        return array, "array"
    if scipy.sparse.issparse(X):
        if spec.accepts_sparse:
            return scipy.sparse.csr_matrix(X), "sparse"
        if X.shape[0] * X.shape[1] > _DENSE_LIMIT:
            raise LearnError(
                f"{spec.name} needs dense input and this sparse data is too large to densify",
                hint="use lightgbm, xgboost, sklearn.linear or sklearn.random_forest",
            )
        X = X.toarray()
    if isinstance(X, pd.DataFrame):
        frame = X.copy(deep=False)  # the data is only read: the caller's columns, renamed
        frame.columns = [str(name) for name in frame.columns]
        return frame, "table"
    array = np.asarray(X)
    if array.ndim != 2:
        raise LearnError(
            f"{spec.name} needs a 2-D table, got shape {array.shape}",
            hint="Reshape your data: one row per sample, one column per feature",
        )
    if array.shape[1] == 0:
        raise LearnError(
            f"0 feature(s) (shape=({array.shape[0]}, 0)) while a minimum of 1 is required."
        )
    if array.dtype.kind == "c":
        raise LearnError("Complex data not supported as features")
    if columns is not None and len(columns) != array.shape[1]:
        raise LearnError(
            f"X has {array.shape[1]} features, but Model is expecting {len(columns)} features "
            "as input"
        )
    names = columns
    return pd.DataFrame(array, columns=names or [f"x{i}" for i in range(array.shape[1])]), "table"
