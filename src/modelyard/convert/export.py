"""Our packages as ONNX models: tables with their preprocessing, one named input per raw
column; ``keras.cnn`` and ``keras.rnn`` array packages by ``export_keras``.

scikit-learn parts are converted by skl2onnx, LightGBM and XGBoost boosters by onnxmltools
(whose tree converters need opset 15 at most), histogram gradient boosting by ``export_trees``,
``keras.mlp`` networks layer by layer here, target encoders by ``export_encoders``, TF-IDF
text features by ``export_text`` and date parts (from epoch seconds) by ``export_dates``.
Nearest neighbours and histogram gradient boosting take their number columns in double
precision, as the package computes them.
Every export is checked against the package before it is written: the same labels, and
probabilities (or values) within ``TOLERANCE``.
"""

from __future__ import annotations

import copy
import functools
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, TransformerMixin

from modelyard.convert import (
    export_dates,
    export_encoders,
    export_keras,
    export_text,
    export_trees,
)
from modelyard.convert.converter_graph import ConverterGraph
from modelyard.convert.errors import ConvertError, ParityError
from modelyard.data.schema import ColumnKind
from modelyard.learn.preprocess import HIGH_CARDINALITY, MeanImputer
from modelyard.learn.registry import Task

if TYPE_CHECKING:
    from modelyard.learn.model import Model

TOLERANCE = 1e-5
OPSET = {"": 15, "ai.onnx.ml": 3}
SAMPLE_ROWS = 200
_EXPORTABLE_BACKENDS = ("sklearn", "lightgbm", "xgboost", "pymc", "keras")
_STRING_KINDS = (ColumnKind.CATEGORICAL, ColumnKind.TEXT)


@dataclass(frozen=True)
class ExportResult:
    """What ``export_onnx`` wrote and the check it passed.

    ``rows`` were compared (``sample``: ``"data"`` when they came from the caller, else
    ``"synthetic"``, drawn from the preprocessing's learned categories and means);
    ``max_difference`` is the largest absolute difference of probabilities (classification)
    or relative difference of values (regression).
    """

    path: Path
    task: Task
    inputs: list[str]
    rows: int
    sample: str
    labels_identical: bool
    max_difference: float


def export_onnx(package: str | Path, out: str | Path, *, data: Any = None) -> ExportResult:
    """Convert a package to an ONNX file, check it, then write ``out``.

    ``data`` (a frame of raw rows, an array, or a data file) is what the check runs on;
    without it, rows are drawn from what the preprocessing (or normalization) learned.

    Raises:
        ConvertError: the package's model, a column kind or a step cannot be converted.
        ParityError: the ONNX model disagrees with the package; ``out`` is not written.
        PackageError: as for ``modelyard.load``.
    """
    from modelyard.learn.backends.onnx import OnnxModel
    from modelyard.package import load

    model = load(package)
    onnx_model = to_onnx(model)
    rows, sample = _sample(model, data)
    converted = OnnxModel(onnx_model.SerializeToString(), model.task_)
    outputs = converted.outputs(rows)
    labels_identical, difference = _compare(model, rows, outputs)
    if not labels_identical or difference > TOLERANCE:
        raise ParityError(
            f"the ONNX model disagrees with {package} on {len(rows)} {sample} rows "
            f"(labels identical: {labels_identical}, largest difference {difference:.3g})",
            hint=f"nothing was written; the tolerance is {TOLERANCE}",
        )
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(onnx_model.SerializeToString())
    return ExportResult(
        out,
        model.task_,
        list(converted.columns_),
        len(rows),
        sample,
        labels_identical,
        difference,
    )


def to_onnx(model: Model) -> Any:
    """The ONNX model of a fitted ``Model``: a table's preprocessing and estimator, one input
    per column (the column names, which ONNX may not take as they are, in its metadata), or a
    Keras array network."""
    import onnx.helper
    from skl2onnx import to_onnx as skl_to_onnx
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType, StringTensorType
    from sklearn.pipeline import Pipeline

    from modelyard.learn.backends.onnx import COLUMNS_KEY, DATES_KEY

    backend = model.spec_.backend
    if backend not in _EXPORTABLE_BACKENDS:
        raise ConvertError(
            f"{backend} packages cannot be exported to ONNX yet",
            hint=f"export works for {', '.join(_EXPORTABLE_BACKENDS)} packages",
        )
    if model.input_kind_ == "array" and backend == "keras":
        return export_keras.array_to_onnx(model, OPSET[""])
    if model.input_kind_ != "table" or model.schema_ is None:
        raise ConvertError(
            "only packages trained on tables (or Keras array packages) can be exported to ONNX"
        )
    estimator = _convertible(model)
    double = _in_double_precision(estimator)
    number = DoubleTensorType if double else FloatTensorType
    inputs: list[tuple[str, Any]] = []
    dates: dict[str, int] = {}  # each date column's first part input
    for name, kind in model.schema_.columns.items():
        if kind is ColumnKind.DATETIME:
            dates[name] = len(inputs)
            inputs.extend((part, number([None, 1])) for part in export_dates.part_names(name))
        else:
            tensor = StringTensorType if kind in _STRING_KINDS else number
            inputs.append((name, tensor([None, 1])))
    fitted = model.preprocessor_.named_steps["columns"]
    columns = _exportable_columns(fitted, double)
    steps: list[tuple[str, Any]] = [("columns", columns), ("model", estimator)]
    if backend == "xgboost" and columns.sparse_output_:
        # XGBoost reads the entries a sparse matrix leaves out (its zeros) as missing.
        _register_zeros_as_missing()
        steps.insert(1, ("zeros", _ZerosAsMissing()))
    pipeline = Pipeline(steps)
    options = {id(estimator): {"zipmap": False}} if model.task_ == "classification" else None
    outputs = _double_outputs(model, estimator) if double else None
    try:
        converted = skl_to_onnx(
            pipeline,
            initial_types=inputs,
            target_opset=OPSET,
            options=options,
            final_types=outputs,
        )
    except (RuntimeError, NotImplementedError, TypeError, ValueError) as error:
        raise ConvertError(
            f"the {model.model} package cannot be converted: {str(error).splitlines()[0]}"
        ) from error
    export_dates.take_epoch_seconds(converted, dates)
    properties = {COLUMNS_KEY: json.dumps(list(model.schema_.columns))}
    if dates:
        properties[DATES_KEY] = json.dumps(dict.fromkeys(dates, export_dates.CONVENTION))
    onnx.helper.set_model_props(converted, properties)
    return converted


def _convertible(model: Model) -> Any:
    """The estimator as the converters take it, its ``classes_`` the package's own labels."""
    import numpy as np
    from scipy.sparse import issparse

    backend = model.spec_.backend
    if backend == "pymc" and model.task_ == "regression":
        return _posterior_mean_line(model)
    if backend == "pymc":
        _register_bayesian_softmax()
        estimator: Any = _BayesianSoftmax(model.estimator_.coef_, model.estimator_.intercept_)
    elif backend == "lightgbm":
        _register_lightgbm()
        wrapper = _LightGbmClassifier if model.task_ == "classification" else _LightGbmRegressor
        estimator = wrapper(model.estimator_.booster_)
    elif backend == "keras":
        _register_keras()
        keras_wrapper = _KerasClassifier if model.task_ == "classification" else _KerasRegressor
        estimator = keras_wrapper(model.estimator_)
    elif backend == "xgboost" and model.task_ == "classification":
        _register_xgboost()
        estimator = _xgboost_classifier_class()()
        estimator.load_model(bytearray(model.estimator_.get_booster().save_raw("json")))
    elif model.model == "sklearn.hist_gradient_boosting":
        export_trees.register()
        estimator = export_trees.wrap(model.estimator_)
    elif model.model in ("sklearn.mlp", "sklearn.svm") and model.task_ == "regression":
        estimator = _output_in_target_units(model.estimator_)
    else:
        if backend == "xgboost":
            _register_xgboost()
        estimator = copy.copy(model.estimator_)
        if issparse(getattr(estimator, "_fit_X", None)):  # neighbours of sparse TF-IDF rows
            estimator._fit_X = estimator._fit_X.toarray()
    if model.task_ == "classification":
        labels = np.asarray(model.classes_)
        # Strings, and booleans as "False" / "True" (ONNX labels are strings or integers).
        estimator.classes_ = labels.astype(str) if labels.dtype.kind in "OUb" else labels
    return estimator


def _output_in_target_units(regressor: Any) -> Any:
    """An MLP or SVR fitted to the standardised target as one MLP or SVR: the target's scaling
    folded into its last step, which is linear (the output layer, the weighted kernel sum)."""
    from sklearn.svm import SVR

    inner = copy.deepcopy(regressor.regressor_)
    scale, mean = regressor.transformer_.scale_[0], regressor.transformer_.mean_[0]
    if isinstance(inner, SVR):
        # libsvm predicts from the private copies, skl2onnx converts the public ones
        for name in ("dual_coef_", "_dual_coef_"):
            setattr(inner, name, getattr(inner, name) * scale)
        for name in ("intercept_", "_intercept_"):
            setattr(inner, name, getattr(inner, name) * scale + mean)
        return inner
    inner.coefs_[-1] = inner.coefs_[-1] * scale
    inner.intercepts_[-1] = inner.intercepts_[-1] * scale + mean
    return inner


def _posterior_mean_line(model: Model) -> Any:
    """A ``pymc.linear`` model as the linear regression its predictions are: the posterior-mean
    coefficients and intercept (its intervals need the draws, which ONNX does not carry)."""
    from sklearn.linear_model import LinearRegression

    line = LinearRegression()
    line.coef_ = model.estimator_.coef_.mean(axis=0)
    line.intercept_ = float(model.estimator_.intercept_.mean())
    line.n_features_in_ = len(line.coef_)
    return line


def _in_double_precision(estimator: Any) -> bool:
    """Whether the model must see its columns in double precision to decide as the package:
    neighbours' distances and boosted trees' thresholds are too close for float32."""
    from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor

    return isinstance(
        estimator,
        (
            KNeighborsClassifier,
            KNeighborsRegressor,
            export_trees.HistGradientBoostingClassifierTrees,
            export_trees.HistGradientBoostingRegressorTrees,
        ),
    )


def _double_outputs(model: Model, estimator: Any) -> list[tuple[str, Any]]:
    """The outputs of a model computed in double precision, as skl2onnx names them."""
    import numpy as np
    from skl2onnx.common.data_types import DoubleTensorType, Int64TensorType, StringTensorType

    if model.task_ == "regression":
        return [("variable", DoubleTensorType([None, 1]))]
    classes = np.asarray(estimator.classes_)
    label = StringTensorType if classes.dtype.kind in "OUS" else Int64TensorType
    return [("label", label([None])), ("probabilities", DoubleTensorType([None, len(classes)]))]


def _exportable_columns(columns: Any, double: bool) -> Any:
    """A copy of the fitted column transformer whose category imputer takes ``""`` as missing,
    whose target encoder is a ``TargetEncoding``, TF-IDF vectorizers ``TextFeatures`` and
    number imputer a ``MeanImputer`` (packages saved before pipelines had one hold a mean
    ``SimpleImputer``, whose skl2onnx converter computes in float32 only).

    skl2onnx imputes strings only when the missing value is a string; the ONNX model's string
    inputs get ``""`` for a missing value (``OnnxModel`` feeds them so).
    """
    from sklearn.feature_extraction.text import TfidfVectorizer

    columns = copy.deepcopy(columns)
    for index, (block, transformer, names) in enumerate(columns.transformers_):
        if block == HIGH_CARDINALITY:
            export_encoders.register()
            encoding = export_encoders.TargetEncoding(transformer, double)
            columns.transformers_[index] = (block, encoding, names)
        if isinstance(transformer, TfidfVectorizer):
            export_text.register()
            features = export_text.text_features(transformer, names, double)
            columns.transformers_[index] = (block, features, names)
        if block == "categorical" and hasattr(transformer, "named_steps"):
            transformer.named_steps["impute"].missing_values = ""
        if block == "numeric":
            _register_mean_imputer()
            imputer = transformer.named_steps["impute"]
            if not isinstance(imputer, MeanImputer):
                means = MeanImputer()
                means.statistics_ = imputer.statistics_
                transformer.steps[0] = ("impute", means)
    return columns


def _mean_imputer_shape(operator: Any) -> None:
    width = sum(variable.get_second_dimension() for variable in operator.inputs)
    operator.outputs[0].type = operator.inputs[0].type.__class__([None, width])


def _convert_mean_imputer(scope: Any, operator: Any, container: Any) -> None:
    """Every missing value (NaN) of the joined inputs replaced by its column's mean, in the
    inputs' precision."""
    import numpy as np
    from skl2onnx.common.data_types import DoubleTensorType

    graph = ConverterGraph(scope, container)
    inputs = [variable.full_name for variable in operator.inputs]
    rows = graph.node("Concat", inputs, axis=1) if len(inputs) > 1 else inputs[0]
    precision = np.float64 if isinstance(operator.inputs[0].type, DoubleTensorType) else np.float32
    means = graph.constant("means", np.asarray(operator.raw_operator.statistics_, precision))
    missing = graph.node("IsNaN", [rows])
    graph.node("Where", [missing, means, rows], operator.outputs[0].full_name)


def _register_mean_imputer() -> None:
    from skl2onnx import update_registered_converter

    update_registered_converter(
        MeanImputer, "ModelyardMeanImputer", _mean_imputer_shape, _convert_mean_imputer
    )


class _ZerosAsMissing(TransformerMixin, BaseEstimator):
    """Every zero made missing (NaN), as XGBoost reads a sparse matrix."""


def _same_shape(operator: Any) -> None:
    operator.outputs[0].type = operator.inputs[0].type.__class__(
        [None, operator.inputs[0].get_second_dimension()]
    )


def _convert_zeros_as_missing(scope: Any, operator: Any, container: Any) -> None:
    import numpy as np

    graph = ConverterGraph(scope, container)
    rows = operator.inputs[0].full_name
    zero = graph.node("Equal", [rows, graph.constant("zero", np.asarray([0.0], np.float32))])
    missing = graph.constant("missing", np.asarray([np.nan], np.float32))
    graph.node("Where", [zero, missing, rows], operator.outputs[0].full_name)


def _register_zeros_as_missing() -> None:
    from skl2onnx import update_registered_converter

    update_registered_converter(
        _ZerosAsMissing, "ModelyardZerosAsMissing", _same_shape, _convert_zeros_as_missing
    )


def _sample(model: Model, data: Any) -> tuple[Any, str]:
    """Raw rows to check on: ``data``'s (up to ``SAMPLE_ROWS``), or rows drawn at random."""
    import numpy as np
    import pandas as pd
    from sklearn.feature_extraction.text import TfidfVectorizer

    from modelyard.data.reading import read_dataset

    if data is not None:
        frame = data if isinstance(data, (pd.DataFrame, np.ndarray)) else read_dataset(data).X
        return frame[:SAMPLE_ROWS], "data"
    rng = np.random.default_rng(0)
    if model.input_kind_ == "array":
        mean, variance = export_keras.input_moments(model)
        shape = (SAMPLE_ROWS, *export_keras.sample_shape(model))
        return mean + np.sqrt(variance) * rng.normal(size=shape), "synthetic"
    schema = model.schema_
    assert schema is not None
    columns = model.preprocessor_.named_steps["columns"]
    rows: dict[str, Any] = {}
    for block, transformer, names in columns.transformers_:
        if block in ("categorical", HIGH_CARDINALITY):
            encoder = transformer if not hasattr(transformer, "steps") else transformer[-1]
            # Target-encoded columns also meet a missing value and a category never seen.
            extra = [None, "(unseen category)"] if block == HIGH_CARDINALITY else []
            for name, categories in zip(names, encoder.categories_, strict=True):
                values = np.asarray([*categories, *extra], dtype=object)
                rows[name] = rng.choice(values, SAMPLE_ROWS)
        elif isinstance(transformer, TfidfVectorizer):
            # The words it knows, a word it does not, capitals and punctuation.
            words = [*transformer.vocabulary_, "unknown"]
            rows[names] = [
                " ".join(rng.choice(words, 6)).capitalize() + "." for _ in range(SAMPLE_ROWS)
            ]
        elif block == "numeric":
            means = transformer.named_steps["impute"].statistics_
            for name, mean in zip(names, means, strict=True):
                scale = abs(mean) if mean else 1.0
                rows[name] = mean + scale * rng.normal(size=SAMPLE_ROWS)
    for name, kind in schema.columns.items():
        if kind is ColumnKind.BOOLEAN:
            rows[name] = rng.integers(0, 2, SAMPLE_ROWS).astype(float)
        elif kind is ColumnKind.DATETIME:
            rows[name] = export_dates.draw(rng, SAMPLE_ROWS)
    return pd.DataFrame(rows)[list(schema.columns)], "synthetic"


def _compare(model: Model, rows: Any, outputs: dict[str, Any]) -> tuple[bool, float]:
    """Whether the labels agree, and the largest difference of probabilities (or values)."""
    import numpy as np

    if model.task_ == "classification":
        expected_labels = np.asarray(model.predict(rows)).astype(str)
        labels = np.asarray(outputs["label"]).ravel().astype(str)
        probabilities = np.asarray(outputs["probabilities"], dtype=np.float64)
        difference = np.abs(probabilities - model.predict_proba(rows)).max()
        return bool(np.array_equal(labels, expected_labels)), float(difference)
    values = np.asarray(outputs["variable"], dtype=np.float64).ravel()
    expected = np.asarray(model.predict(rows), dtype=np.float64)
    scale = np.maximum(1.0, np.abs(expected))
    return True, float((np.abs(values - expected) / scale).max())


class _LightGbmClassifier(ClassifierMixin, BaseEstimator):
    """A LightGBM booster as onnxmltools' converter reads a fitted ``LGBMClassifier``."""

    def __init__(self, booster: Any = None) -> None:
        self.booster_ = booster
        self.boosting_type = _boosting_type(booster)


class _LightGbmRegressor(RegressorMixin, BaseEstimator):
    """A LightGBM booster as onnxmltools' converter reads a fitted ``LGBMRegressor``."""

    def __init__(self, booster: Any = None) -> None:
        self.booster_ = booster
        self.boosting_type = _boosting_type(booster)


class _BayesianSoftmax(ClassifierMixin, BaseEstimator):
    """A ``pymc.logistic`` posterior as a classifier skl2onnx converts: each class probability
    is the mean, over every posterior draw, of the softmax of that draw's logits.

    ``coef_`` has shape (draws, features, classes) and ``intercept_`` (draws, classes).
    """

    def __init__(self, coef: Any = None, intercept: Any = None) -> None:
        self.coef_ = coef
        self.intercept_ = intercept


def _convert_bayesian_softmax(scope: Any, operator: Any, container: Any) -> None:
    """Logits of every draw at once (one MatMul), softmax per draw, mean over draws; in double
    precision, as the package computes them, then the label of the most probable class."""
    import numpy as np
    from onnx import TensorProto

    graph = ConverterGraph(scope, container)
    model = operator.raw_operator
    draws, features, classes = model.coef_.shape
    weights = model.coef_.transpose(1, 0, 2).reshape(features, draws * classes)
    rows = graph.node("Cast", [operator.inputs[0].full_name], to=TensorProto.DOUBLE)
    logits = graph.node(
        "Add",
        [
            graph.node("MatMul", [rows, graph.constant("weights", weights.astype(np.float64))]),
            graph.constant("intercepts", model.intercept_.reshape(-1).astype(np.float64)),
        ],
    )
    per_draw = graph.node("Reshape", [logits, graph.constant("draws", [-1, draws, classes])])
    probabilities = graph.node(
        "ReduceMean", [graph.node("Softmax", [per_draw], axis=2)], axes=[1], keepdims=0
    )
    graph.cast_to_output(probabilities, operator.outputs[1])
    graph.labels(probabilities, model.classes_, operator.outputs[0].full_name)


def _register_bayesian_softmax() -> None:
    from skl2onnx import update_registered_converter
    from skl2onnx.common.shape_calculator import calculate_linear_classifier_output_shapes

    update_registered_converter(
        _BayesianSoftmax,
        "ModelyardBayesianSoftmax",
        calculate_linear_classifier_output_shapes,
        _convert_bayesian_softmax,
        options={"nocl": [True, False], "zipmap": [True, False, "columns"]},
    )


def _boosting_type(booster: Any) -> str:
    """The boosting (``gbdt``, ``rf``, ...) a booster's text model records."""
    found = re.search(r"^\[boosting: (\w+)\]$", booster.model_to_string(), re.MULTILINE)
    return found.group(1) if found else "gbdt"


def _register_lightgbm() -> None:
    from onnxmltools.convert.lightgbm.operator_converters.LightGbm import convert_lightgbm
    from skl2onnx import update_registered_converter
    from skl2onnx.common.shape_calculator import (
        calculate_linear_classifier_output_shapes,
        calculate_linear_regressor_output_shapes,
    )

    update_registered_converter(
        _LightGbmClassifier,
        "LightGbmLGBMClassifier",
        calculate_linear_classifier_output_shapes,
        convert_lightgbm,
        options={"nocl": [True, False], "zipmap": [True, False, "columns"]},
    )
    update_registered_converter(
        _LightGbmRegressor,
        "LightGbmLGBMRegressor",
        calculate_linear_regressor_output_shapes,
        convert_lightgbm,
        options={"split": None},
    )


@functools.cache
def _xgboost_classifier_class() -> type:
    """``XGBClassifier`` whose ``classes_`` can be set (onnxmltools labels by them)."""
    import xgboost

    return type("_XGBClassifier", (xgboost.XGBClassifier,), {"classes_": None})


def _register_xgboost() -> None:
    import xgboost
    from onnxmltools.convert.xgboost.operator_converters.XGBoost import convert_xgboost
    from skl2onnx import update_registered_converter
    from skl2onnx.common.shape_calculator import (
        calculate_linear_classifier_output_shapes,
        calculate_linear_regressor_output_shapes,
    )

    update_registered_converter(
        _xgboost_classifier_class(),
        "XGBoostXGBClassifier",
        calculate_linear_classifier_output_shapes,
        convert_xgboost,
        options={"nocl": [True, False], "zipmap": [True, False, "columns"]},
    )
    update_registered_converter(
        xgboost.XGBRegressor,
        "XGBoostXGBRegressor",
        calculate_linear_regressor_output_shapes,
        convert_xgboost,
    )


class _KerasClassifier(ClassifierMixin, BaseEstimator):
    """A ``keras.mlp`` classification network, for ``_convert_keras``."""

    def __init__(self, network: Any = None) -> None:
        self.network = network


class _KerasRegressor(RegressorMixin, BaseEstimator):
    """A ``keras.mlp`` regression network, for ``_convert_keras``."""

    def __init__(self, network: Any = None) -> None:
        self.network = network


# Keras activations of Dense layers, as ONNX operators (``None``: nothing to add).
_KERAS_ACTIVATIONS = {
    "linear": None,
    "relu": "Relu",
    "sigmoid": "Sigmoid",
    "tanh": "Tanh",
    "softmax": "Softmax",
}


def _keras_steps(network: Any) -> list[tuple[str, list[Any]]]:
    """The network as ONNX operators, each with the float32 constants it takes after its input.

    Normalization is ``(x - mean) / max(sqrt(variance), epsilon)``, as Keras computes it; a
    regression network's output is scaled back to the target (``y_std``, ``y_mean``).
    """
    import keras
    import numpy as np

    def value(weight: Any) -> Any:
        return np.asarray(keras.ops.convert_to_numpy(weight), dtype=np.float32)

    steps: list[tuple[str, list[Any]]] = []
    for layer in network.model_.layers:
        kind = type(layer).__name__
        activation = getattr(getattr(layer, "activation", None), "__name__", "")
        if kind in ("InputLayer", "Dropout"):
            continue
        if kind == "Normalization" and not layer.invert:
            std = np.maximum(np.sqrt(value(layer.variance)), keras.config.epsilon())
            steps += [("Sub", [value(layer.mean)]), ("Div", [std.astype(np.float32)])]
        elif kind == "Dense" and activation in _KERAS_ACTIVATIONS:
            steps.append(("MatMul", [value(layer.kernel)]))
            if layer.use_bias:
                steps.append(("Add", [value(layer.bias)]))
            operator = _KERAS_ACTIVATIONS[activation]
            if operator:
                steps.append((operator, []))
        else:
            raise ConvertError(
                f"the Keras layer {layer.name!r} ({kind}"
                f"{f', activation {activation}' if activation else ''}) cannot be exported",
                hint="export covers keras.mlp networks: Normalization, Dense and Dropout",
            )
    if network.task == "regression":
        steps += [
            ("Mul", [np.float32(network.y_std_)]),
            ("Add", [np.float32(network.y_mean_)]),
        ]
    return steps


def _convert_keras(scope: Any, operator: Any, container: Any) -> None:
    """skl2onnx converter: the network's operators, then (classifiers) the best class's label."""
    import numpy as np

    graph = ConverterGraph(scope, container)
    wrapper = operator.raw_operator
    classifier = isinstance(wrapper, _KerasClassifier)
    steps = _keras_steps(wrapper.network)
    current = operator.inputs[0].full_name
    for index, (op, constants) in enumerate(steps):
        weights = [
            graph.constant("keras_weight", np.asarray(value, np.float32)) for value in constants
        ]
        last = index == len(steps) - 1
        output = operator.outputs[1 if classifier else 0].full_name if last else None
        current = graph.node(op, [current, *weights], output)
    if classifier:
        graph.labels(current, wrapper.classes_, operator.outputs[0].full_name)


def _register_keras() -> None:
    from skl2onnx import update_registered_converter
    from skl2onnx.common.shape_calculator import (
        calculate_linear_classifier_output_shapes,
        calculate_linear_regressor_output_shapes,
    )

    update_registered_converter(
        _KerasClassifier,
        "ModelyardKerasClassifier",
        calculate_linear_classifier_output_shapes,
        _convert_keras,
        options={"nocl": [True, False], "zipmap": [True, False, "columns"]},
    )
    update_registered_converter(
        _KerasRegressor,
        "ModelyardKerasRegressor",
        calculate_linear_regressor_output_shapes,
        _convert_keras,
    )
