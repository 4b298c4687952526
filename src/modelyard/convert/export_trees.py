"""scikit-learn's histogram gradient boosting as ONNX tree ensembles, in double precision.

skl2onnx's own converter for these models fails under protobuf 7 (it writes a Python bool
into an integer attribute), so the trees are written here from the fitted predictors.
"""

from __future__ import annotations

from typing import Any

from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin

from modelyard.convert.converter_graph import ConverterGraph
from modelyard.convert.errors import ConvertError

# The inverse links the regressors' losses use, as ONNX operators (``None``: the identity).
_INVERSE_LINKS = {"IdentityLink": None, "LogLink": "Exp"}


class HistGradientBoostingClassifierTrees(ClassifierMixin, BaseEstimator):
    """A fitted ``HistGradientBoostingClassifier``, for ``convert_trees``."""

    def __init__(self, estimator: Any = None) -> None:
        self.estimator = estimator


class HistGradientBoostingRegressorTrees(RegressorMixin, BaseEstimator):
    """A fitted ``HistGradientBoostingRegressor``, for ``convert_trees``."""

    def __init__(self, estimator: Any = None) -> None:
        self.estimator = estimator


def wrap(estimator: Any) -> BaseEstimator:
    """``estimator`` (fitted histogram gradient boosting) as our converter takes it."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    if isinstance(estimator, HistGradientBoostingClassifier):
        return HistGradientBoostingClassifierTrees(estimator)
    return HistGradientBoostingRegressorTrees(estimator)


def _ensemble_attributes(estimator: Any) -> dict[str, Any]:
    """The TreeEnsembleRegressor attributes of every tree: one target per tree of an iteration.

    A split sends a row left when its value is at most the threshold, and a missing value
    left when ``missing_go_to_left``, as scikit-learn predicts.
    """
    import numpy as np

    nodes: dict[str, list[Any]] = {
        key: []
        for key in (
            "treeids",
            "nodeids",
            "featureids",
            "modes",
            "values",
            "truenodeids",
            "falsenodeids",
            "missing_value_tracks_true",
        )
    }
    targets: dict[str, list[Any]] = {key: [] for key in ("treeids", "nodeids", "ids", "weights")}
    tree = 0
    for iteration in estimator._predictors:
        for target, predictor in enumerate(iteration):
            for index, node in enumerate(predictor.nodes):
                if node["is_categorical"]:
                    raise ConvertError(
                        "histogram gradient boosting with categorical splits cannot be "
                        "exported to ONNX",
                        hint="train it on one-hot encoded categories",
                    )
                leaf = bool(node["is_leaf"])
                nodes["treeids"].append(tree)
                nodes["nodeids"].append(index)
                nodes["featureids"].append(0 if leaf else int(node["feature_idx"]))
                nodes["modes"].append("LEAF" if leaf else "BRANCH_LEQ")
                nodes["values"].append(0.0 if leaf else float(node["num_threshold"]))
                nodes["truenodeids"].append(0 if leaf else int(node["left"]))
                nodes["falsenodeids"].append(0 if leaf else int(node["right"]))
                nodes["missing_value_tracks_true"].append(
                    0 if leaf else int(node["missing_go_to_left"])
                )
                if leaf:
                    targets["treeids"].append(tree)
                    targets["nodeids"].append(index)
                    targets["ids"].append(target)
                    targets["weights"].append(float(node["value"]))
            tree += 1
    from onnx import numpy_helper

    def doubles(values: list[float], name: str) -> Any:
        return numpy_helper.from_array(np.asarray(values, dtype=np.float64), name)

    baseline = np.asarray(estimator._baseline_prediction, dtype=np.float64).ravel()
    return {
        **{f"nodes_{key}": value for key, value in nodes.items() if key != "values"},
        **{f"target_{key}": value for key, value in targets.items() if key != "weights"},
        "nodes_values_as_tensor": doubles(nodes["values"], "nodes_values"),
        "target_weights_as_tensor": doubles(targets["weights"], "target_weights"),
        "base_values_as_tensor": doubles(list(baseline), "base_values"),
        "n_targets": len(baseline),
        "aggregate_function": "SUM",
        "post_transform": "NONE",
    }


def convert_trees(scope: Any, operator: Any, container: Any) -> None:
    """skl2onnx converter: the raw scores of every tree, then the loss's inverse link
    (classifiers: probabilities, and the best class's label)."""
    graph = ConverterGraph(scope, container)
    wrapper = operator.raw_operator
    estimator = wrapper.estimator
    rows = graph.node("Cast", [operator.inputs[0].full_name], to=_double())
    summed = graph.node(
        "TreeEnsembleRegressor",
        [rows],
        op_domain="ai.onnx.ml",
        op_version=3,
        **_ensemble_attributes(estimator),
    )
    # The ensemble sums in double precision, but its output is float32 (ai.onnx.ml 3).
    raw = graph.node("Cast", [summed], to=_double())
    if isinstance(wrapper, HistGradientBoostingRegressorTrees):
        link = type(estimator._loss.link).__name__
        if link not in _INVERSE_LINKS:
            raise ConvertError(
                f"histogram gradient boosting with the {estimator.loss!r} loss cannot be "
                "exported to ONNX",
                hint="export covers the losses whose link is the identity or the logarithm",
            )
        inverse = _INVERSE_LINKS[link]
        graph.cast_to_output(graph.node(inverse, [raw]) if inverse else raw, operator.outputs[0])
        return
    if estimator.n_trees_per_iteration_ == 1:
        positive = graph.node("Sigmoid", [raw])
        negative = graph.node("Sub", [graph.constant("one", [[1.0]]), positive])
        probabilities = graph.node("Concat", [negative, positive], axis=1)
    else:
        probabilities = graph.node("Softmax", [raw], axis=1)
    graph.cast_to_output(probabilities, operator.outputs[1])
    graph.labels(probabilities, wrapper.classes_, operator.outputs[0].full_name)


def _double() -> int:
    from onnx import TensorProto

    return int(TensorProto.DOUBLE)


def register() -> None:
    """Register ``convert_trees`` for the two wrappers with skl2onnx."""
    from skl2onnx import update_registered_converter
    from skl2onnx.common.shape_calculator import (
        calculate_linear_classifier_output_shapes,
        calculate_linear_regressor_output_shapes,
    )

    update_registered_converter(
        HistGradientBoostingClassifierTrees,
        "ModelyardHistGradientBoostingClassifier",
        calculate_linear_classifier_output_shapes,
        convert_trees,
        options={"nocl": [True, False], "zipmap": [True, False, "columns"]},
    )
    update_registered_converter(
        HistGradientBoostingRegressorTrees,
        "ModelyardHistGradientBoostingRegressor",
        calculate_linear_regressor_output_shapes,
        convert_trees,
    )
