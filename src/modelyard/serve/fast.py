"""A numpy fast path through a table package's fitted preprocessing.

The package's scikit-learn pipeline (coerce, then a ``ColumnTransformer`` of imputers, scalers
and encoders) costs milliseconds per call whatever the number of rows, mostly in pandas and
input validation. ``compile_features`` reads the fitted statistics and category tables once
and applies them with numpy; it is used only when it reproduces the pipeline's output exactly
on probe rows (every category, unseen values, gaps), and otherwise returns ``None``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from modelyard.data.schema import ColumnKind, Schema
from modelyard.learn.preprocess import MeanImputer, date_parts, parse_datetimes

logger = logging.getLogger(__name__)

_UNSEEN = "\x00modelyard-unseen\x00"


@dataclass(frozen=True)
class _Numeric:
    """Impute with fitted statistics, then optionally standardize."""

    columns: list[str]
    fill: Any
    mean: Any
    scale: Any

    def apply(self, inputs: Mapping[str, Any], rows: int) -> Any:
        import numpy as np

        block = np.column_stack([inputs[name] for name in self.columns]).astype("float64")
        missing = np.isnan(block)
        if missing.any():
            block = np.where(missing, self.fill, block)
        if self.mean is not None:
            block = block - self.mean
        if self.scale is not None:
            block = block / self.scale
        return block


@dataclass(frozen=True)
class _Lookup:
    """Each category column's output vectors, looked up per value."""

    columns: list[str]
    tables: list[dict[str, Any]]
    missing: list[Any]
    unseen: list[Any]

    def apply(self, inputs: Mapping[str, Any], rows: int) -> Any:
        import numpy as np

        parts = []
        for name, table, missing, unseen in zip(
            self.columns, self.tables, self.missing, self.unseen, strict=True
        ):
            parts.append(
                np.vstack(
                    [
                        missing if value is None else table.get(value, unseen)
                        for value in inputs[name]
                    ]
                )
            )
        return np.hstack(parts)


@dataclass(frozen=True)
class FeatureTransform:
    """The compiled preprocessing: checked columns in, the estimator's features out."""

    schema: Schema
    blocks: Sequence[_Numeric | _Lookup]
    sparse: bool

    def __call__(self, columns: Mapping[str, Any]) -> Any:
        import numpy as np

        rows = len(next(iter(columns.values())))
        inputs = _coerce(columns, self.schema)
        features = np.hstack([block.apply(inputs, rows) for block in self.blocks])
        if self.sparse:
            import scipy.sparse

            return scipy.sparse.csr_matrix(features)
        return features


LinearKind = Literal["binary", "multinomial", "regression"]
"""How a linear model turns its scores into answers."""


@dataclass(frozen=True)
class LinearEstimator:
    """A fitted ``LogisticRegression`` or ``Ridge`` as numpy: scores are ``X @ coef.T + b``.

    scikit-learn's own ``predict`` spends about 100 us per call validating its input, more than
    the arithmetic on a few rows; the compiled features are already checked.
    """

    coef: Any
    intercept: Any
    labels: Any
    kind: LinearKind

    def _scores(self, features: Any) -> Any:
        return features @ self.coef.T + self.intercept

    def predict(self, features: Any) -> Any:
        """The estimator's labels (classifiers) or values (regressors)."""
        import numpy as np

        scores = self._scores(features)
        if self.kind == "regression":
            return scores.ravel() if self.coef.shape[0] == 1 else scores
        if self.kind == "binary":
            return self.labels[(scores.ravel() > 0).astype(int)]
        return self.labels[np.argmax(scores, axis=1)]

    def predict_proba(self, features: Any) -> Any:
        """Class probabilities, as ``LogisticRegression.predict_proba`` computes them."""
        import numpy as np
        from scipy.special import expit

        scores = self._scores(features)
        if self.kind == "binary":
            positive = expit(scores.ravel())
            return np.column_stack([1 - positive, positive])
        scores = scores - scores.max(axis=1, keepdims=True)
        exp = np.exp(scores)
        return exp / exp.sum(axis=1, keepdims=True)


def compile_estimator(model: Any) -> LinearEstimator | None:
    """The numpy form of ``model``'s linear estimator, checked against it; else ``None``."""
    try:
        estimator = _linear(model.estimator_)
        if estimator is not None and not _same_predictions(model.estimator_, estimator):
            logger.info("the linear fast path of %s disagrees with it; not used", model.model)
            return None
    except Exception:  # any surprise in a fitted object's layout: use the estimator itself
        logger.debug("no linear fast path for %s", model.model, exc_info=True)
        return None
    return estimator


def _linear(estimator: Any) -> LinearEstimator | None:
    import numpy as np
    from sklearn.linear_model import LogisticRegression, Ridge

    if type(estimator) not in (LogisticRegression, Ridge):
        return None
    coef = np.atleast_2d(np.asarray(estimator.coef_, dtype="float64"))
    intercept = np.asarray(estimator.intercept_, dtype="float64")
    if type(estimator) is LogisticRegression:
        classes = estimator.classes_
        kind: LinearKind = "binary" if len(classes) <= 2 else "multinomial"
        return LinearEstimator(coef, intercept, classes, kind)
    return LinearEstimator(coef, intercept, None, "regression")


def _same_predictions(estimator: Any, linear: LinearEstimator) -> bool:
    """Whether ``linear`` answers as the estimator does, on wide-ranging probe features."""
    import numpy as np

    width = linear.coef.shape[1]
    probes = np.random.default_rng(0).normal(scale=3.0, size=(256, width))
    expected = np.asarray(estimator.predict(probes))
    found = linear.predict(probes)
    if expected.shape != found.shape or not (
        np.array_equal(expected, found)
        if linear.kind != "regression"
        else np.allclose(expected, found, rtol=1e-9, atol=1e-12)
    ):
        return False
    if linear.kind == "regression":
        return True
    proba = np.asarray(estimator.predict_proba(probes))
    return proba.shape == linear.predict_proba(probes).shape and np.allclose(
        proba, linear.predict_proba(probes), rtol=1e-9, atol=1e-15
    )


def _coerce(columns: Mapping[str, Any], schema: Schema) -> dict[str, Any]:
    """What the pipeline's ``ColumnCoercer`` makes of already checked columns."""
    import numpy as np

    inputs: dict[str, Any] = {}
    for name, kind in schema.columns.items():
        values = columns[name]
        if kind is ColumnKind.NUMERIC:
            inputs[name] = values
        elif kind is ColumnKind.BOOLEAN:
            inputs[name] = np.array([np.nan if value is None else float(value) for value in values])
        elif kind is ColumnKind.DATETIME:
            import pandas as pd

            stamps = parse_datetimes(pd.Series(values, dtype=object))
            for part, numbers in date_parts(stamps).items():
                inputs[f"{name}__{part}"] = numbers.to_numpy()
        else:
            inputs[name] = values
    return inputs


def compile_features(model: Any) -> FeatureTransform | None:
    """The fast path for ``model``'s preprocessing, or ``None`` where it does not apply."""
    try:
        transform = _compile(model)
        if transform is not None and not _agrees(model, transform):
            logger.info("the fast path of %s disagrees with its pipeline; not used", model.model)
            return None
    except Exception:  # any surprise in a fitted object's layout: use the pipeline itself
        logger.debug("no fast path for %s", model.model, exc_info=True)
        return None
    return transform


def _compile(model: Any) -> FeatureTransform | None:
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline

    pipeline = model.preprocessor_
    schema: Schema | None = model.schema_
    if model.input_kind_ != "table" or schema is None or not isinstance(pipeline, Pipeline):
        return None
    columns = pipeline.named_steps.get("columns")
    if not isinstance(columns, ColumnTransformer) or len(pipeline.steps) != 2:
        return None
    blocks: list[_Numeric | _Lookup] = []
    for name, fitted, names in columns.transformers_:
        if isinstance(fitted, str):
            if fitted == "drop":
                continue
            return None
        if name == "numeric":
            block: _Numeric | _Lookup | None = _numeric(fitted, list(names))
        elif name == "categorical":
            block = _categorical(fitted, list(names))
        else:
            return None
        if block is None:
            return None
        blocks.append(block)
    return FeatureTransform(schema, blocks, bool(columns.sparse_output_))


def _numeric(pipeline: Any, names: list[str]) -> _Numeric | None:
    import numpy as np
    from sklearn.impute import SimpleImputer
    from sklearn.preprocessing import StandardScaler

    steps: dict[str, Any] = dict(pipeline.steps)
    imputer, scaler = steps.get("impute"), steps.get("scale")
    # SimpleImputer: packages saved before the pipelines had a ``MeanImputer``.
    if isinstance(imputer, SimpleImputer) and imputer.add_indicator:
        return None
    if not isinstance(imputer, (MeanImputer, SimpleImputer)):
        return None
    if np.isnan(imputer.statistics_.astype("float64")).any() or set(steps) - {"impute", "scale"}:
        return None  # a column the imputer dropped: let the pipeline handle it
    mean = scale = None
    if scaler is not None:
        if not isinstance(scaler, StandardScaler):
            return None
        mean = scaler.mean_ if scaler.with_mean else None
        scale = scaler.scale_ if scaler.with_std else None
    return _Numeric(names, imputer.statistics_.astype("float64"), mean, scale)


def _categorical(encoder: Any, names: list[str]) -> _Lookup | None:
    import numpy as np
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder

    if isinstance(encoder, OrdinalEncoder):
        tables, missing, unseen = [], [], []
        for categories in encoder.categories_:
            known = [c for c in categories if isinstance(c, str)]
            index = {c: i for i, c in enumerate(categories) if isinstance(c, str)}
            tables.append({c: np.array([float(index[c])]) for c in known})
            missing.append(np.array([np.nan]))
            unseen.append(np.array([np.nan]))
        return _Lookup(names, tables, missing, unseen)
    if not isinstance(encoder, Pipeline) or [n for n, _ in encoder.steps] != ["impute", "one_hot"]:
        return None
    imputer, one_hot = encoder.named_steps["impute"], encoder.named_steps["one_hot"]
    if not isinstance(one_hot, OneHotEncoder) or imputer.strategy != "constant":
        return None
    fill = imputer.fill_value
    widths = list(one_hot._n_features_outs)
    offsets = np.cumsum([0, *widths])
    base = [categories[0] for categories in one_hot.categories_]
    tables, missing, unseen = [], [], []
    for i, categories in enumerate(one_hot.categories_):
        probes = [*map(str, categories), fill, _UNSEEN]
        grid = np.array([[*base[:i], probe, *base[i + 1 :]] for probe in probes], dtype=object)
        out = one_hot.transform(grid)
        out = out.toarray() if hasattr(out, "toarray") else np.asarray(out)
        block = out[:, offsets[i] : offsets[i + 1]].astype("float64")
        tables.append({probe: block[row] for row, probe in enumerate(probes[:-2])})
        missing.append(block[-2])
        unseen.append(block[-1])
    return _Lookup(names, tables, missing, unseen)


def _agrees(model: Any, transform: FeatureTransform) -> bool:
    """Whether the fast path gives the pipeline's features on rows that probe every branch."""
    import numpy as np
    import pandas as pd

    schema = transform.schema
    categories: dict[str, list[Any]] = {}
    for block in transform.blocks:
        if isinstance(block, _Lookup):
            for name, table in zip(block.columns, block.tables, strict=True):
                categories[name] = [None, "an unseen category", *table]
    rows = max([4, *(len(values) for values in categories.values())])
    columns: dict[str, Any] = {}
    for name, kind in schema.columns.items():
        if kind is ColumnKind.NUMERIC:
            values: list[Any] = [np.nan, 0.0, -3.5, 1e6]
            columns[name] = np.array([values[i % 4] for i in range(rows)], dtype="float64")
        elif kind is ColumnKind.BOOLEAN:
            columns[name] = np.array([[None, True, False][i % 3] for i in range(rows)], object)
        elif kind is ColumnKind.DATETIME:
            stamps = [None, "2021-03-04T05:06:07", "1999-12-31 23:59:59+02:00"]
            columns[name] = np.array([stamps[i % 3] for i in range(rows)], dtype=object)
        else:
            values = categories.get(name, [None, "a"])
            columns[name] = np.array([values[i % len(values)] for i in range(rows)], object)
    expected = model.transform_features(pd.DataFrame(columns))
    found = transform(columns)
    expected = expected.toarray() if hasattr(expected, "toarray") else np.asarray(expected)
    found = found.toarray() if hasattr(found, "toarray") else found
    return bool(
        expected.shape == found.shape
        and np.allclose(expected.astype("float64"), found, equal_nan=True, rtol=1e-12, atol=0)
    )
