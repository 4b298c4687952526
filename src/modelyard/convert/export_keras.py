"""``keras.cnn`` and ``keras.rnn`` array packages as ONNX models, layer by layer.

Keras keeps channels last and ONNX convolutions want them first, so the features are
transposed once before the first convolution. The model takes the arrays the package takes
(one input, ``X``, reshaped to the network's input) and gives ``label`` and ``probabilities``
(classification) or ``variable`` (regression), as exported tables do.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from modelyard.convert.errors import ConvertError
from modelyard.convert.graph import OnnxGraph, int64

if TYPE_CHECKING:
    from modelyard.learn.model import Model

INPUT = "X"
# Keras activations as ONNX operators (``None``: nothing to add).
_ACTIVATIONS = {"linear": None, "relu": "Relu", "sigmoid": "Sigmoid", "tanh": "Tanh"}


def array_to_onnx(model: Model, opset: int) -> Any:
    """The ONNX model of a fitted ``keras.cnn`` or ``keras.rnn`` array package.

    Raises:
        ConvertError: a layer (or its activation, padding or stride) has no mapping here.
    """
    import keras
    from onnx import TensorProto, helper

    network = model.estimator_.model_
    graph = OnnxGraph()
    current = "features"
    graph.node(
        "Reshape",
        [INPUT, graph.const("input_shape", int64([-1, *network.input_shape[1:]]))],
        [current],
    )
    channels_first = False
    for layer in network.layers:
        current, channels_first = _layer(graph, keras, layer, current, channels_first)
    outputs = _outputs(graph, model, current)
    return helper.make_model(
        helper.make_graph(
            graph.nodes,
            "modelyard",
            [helper.make_tensor_value_info(INPUT, TensorProto.FLOAT, None)],
            outputs,
            graph.initializers,
        ),
        opset_imports=[helper.make_opsetid("", opset)],
        producer_name="modelyard",
    )


def sample_shape(model: Model) -> tuple[int, ...]:
    """The shape of one row as the package takes it (a sequence for Conv1D has no channel)."""
    shape = tuple(model.estimator_.model_.input_shape[1:])
    one_dimensional = model.estimator_.architecture == "cnn" and len(shape) == 2
    return shape[:1] if one_dimensional and shape[1] == 1 else shape


def input_moments(model: Model) -> tuple[float, float]:
    """The mean and variance the network's normalization learned (0 and 1 without one)."""
    for layer in model.estimator_.model_.layers:
        if type(layer).__name__ == "Normalization":
            mean, variance = layer.get_weights()[:2]
            return float(mean.mean()), float(variance.mean())
    return 0.0, 1.0


def _layer(
    graph: OnnxGraph, keras: Any, layer: Any, source: str, channels_first: bool
) -> tuple[str, bool]:
    """Add one layer's nodes; returns its output and whether channels now come first."""
    import numpy as np

    kind = type(layer).__name__
    top = layer.name

    def value(weight: Any) -> Any:
        return np.asarray(keras.ops.convert_to_numpy(weight), dtype=np.float32)

    if kind in ("InputLayer", "Dropout"):
        return source, channels_first
    if kind == "Normalization" and not layer.invert and layer.axis == ():
        std = np.maximum(np.sqrt(value(layer.variance)), keras.config.epsilon())
        centred = f"{top}/centred"
        graph.node("Sub", [source, graph.const(f"{top}/mean", value(layer.mean))], [centred])
        graph.node("Div", [centred, graph.const(f"{top}/std", std.astype(np.float32))], [top])
        return top, channels_first
    if kind in ("Conv1D", "Conv2D"):
        _check(layer, kind, padding="same", strides=1, dilation_rate=1, groups=1)
        kernel = value(layer.kernel)  # (*window, in, out) -> (out, in, *window)
        window = kernel.shape[:-2]
        source = _channels_first(graph, source, top, channels_first, len(window))
        weights = graph.const(
            f"{top}/W", np.ascontiguousarray(np.moveaxis(kernel, (-1, -2), (0, 1)))
        )
        inputs = [source, weights]
        if layer.use_bias:
            inputs.append(graph.const(f"{top}/B", value(layer.bias)))
        convolved = f"{top}/conv"
        graph.node("Conv", inputs, [convolved], auto_pad="SAME_UPPER", kernel_shape=list(window))
        _activate(graph, layer, kind, convolved, top)
        return top, True
    if kind == "MaxPooling2D":
        _check(layer, kind, padding="valid")
        pool = list(layer.pool_size)
        strides = list(layer.strides or pool)
        source = _channels_first(graph, source, top, channels_first, 2)
        graph.node("MaxPool", [source], [top], kernel_shape=pool, strides=strides)
        return top, True
    if kind in ("GlobalAveragePooling2D", "GlobalMaxPooling1D") and not layer.keepdims:
        source = _channels_first(graph, source, top, channels_first, 2 if "2D" in kind else 1)
        pooled = f"{top}/pooled"
        op = "GlobalAveragePool" if kind.startswith("GlobalAverage") else "GlobalMaxPool"
        graph.node(op, [source], [pooled])
        graph.node("Flatten", [pooled], [top], axis=1)
        return top, False
    if kind == "LSTM" and not channels_first:
        _lstm(graph, layer, value, source, top)
        return top, False
    if kind == "Dense" and not channels_first:
        product = f"{top}/product"
        graph.node("MatMul", [source, graph.const(f"{top}/W", value(layer.kernel))], [product])
        if layer.use_bias:
            biased = f"{top}/biased"
            graph.node("Add", [product, graph.const(f"{top}/B", value(layer.bias))], [biased])
            product = biased
        if _activation(layer) == "softmax":
            graph.node("Softmax", [product], [top], axis=1)
        else:
            _activate(graph, layer, kind, product, top)
        return top, False
    raise _unsupported(layer, kind)


def _lstm(graph: OnnxGraph, layer: Any, value: Any, source: str, top: str) -> None:
    """Keras' LSTM (gates i, f, c, o; sigmoid and tanh) as ONNX's (gates i, o, f, c)."""
    import numpy as np

    _check(layer, "LSTM", return_sequences=False, go_backwards=False, use_bias=True)
    if (_activation(layer), layer.recurrent_activation.__name__) != ("tanh", "sigmoid"):
        raise _unsupported(layer, "LSTM")
    units = layer.units
    cell = layer.cell

    def onnx_gates(array: Any) -> Any:
        i, f, c, o = np.split(array, 4, axis=-1)
        return np.concatenate([i, o, f, c], axis=-1)

    kernel = onnx_gates(value(cell.kernel)).T[None]  # (1, 4 * units, features)
    recurrent = onnx_gates(value(cell.recurrent_kernel)).T[None]
    bias = np.concatenate([onnx_gates(value(cell.bias)), np.zeros(4 * units, np.float32)])[None]
    steps_first = f"{top}/steps_first"
    graph.node("Transpose", [source], [steps_first], perm=[1, 0, 2])
    last = f"{top}/last"
    graph.node(
        "LSTM",
        [
            steps_first,
            graph.const(f"{top}/W", np.ascontiguousarray(kernel)),
            graph.const(f"{top}/R", np.ascontiguousarray(recurrent)),
            graph.const(f"{top}/B", bias),
        ],
        ["", last],
        hidden_size=units,
    )
    graph.node("Reshape", [last, graph.const(f"{top}/shape", int64([-1, units]))], [top])


def _outputs(graph: OnnxGraph, model: Model, scores: str) -> list[Any]:
    """The named outputs: the best class's label and the probabilities, or the scaled value."""
    import numpy as np
    from onnx import TensorProto, helper

    network = model.estimator_
    if model.task_ == "regression":
        scaled = "scaled"
        graph.node(
            "Mul",
            [scores, graph.const("y_std", np.asarray([network.y_std_], np.float32))],
            [scaled],
        )
        graph.node(
            "Add",
            [scaled, graph.const("y_mean", np.asarray([network.y_mean_], np.float32))],
            ["variable"],
        )
        return [helper.make_tensor_value_info("variable", TensorProto.FLOAT, None)]
    graph.node("Identity", [scores], ["probabilities"])
    best = "best"
    graph.node("ArgMax", [scores], [best], axis=1, keepdims=0)
    classes = np.asarray(model.classes_)
    strings = classes.dtype.kind in "OUSb"  # booleans as "False" / "True", as tables
    labels = classes.astype(str).astype(object) if strings else classes.astype(np.int64)
    graph.node("Gather", [graph.const("classes", labels), best], ["label"])
    kind = TensorProto.STRING if strings else TensorProto.INT64
    return [
        helper.make_tensor_value_info("label", kind, None),
        helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, None),
    ]


def _channels_first(
    graph: OnnxGraph, source: str, top: str, channels_first: bool, spatial: int
) -> str:
    """``source`` (``spatial`` axes) with its channels moved from last to second."""
    if channels_first:
        return source
    moved = f"{top}/channels_first"
    graph.node("Transpose", [source], [moved], perm=[0, spatial + 1, *range(1, spatial + 1)])
    return moved


def _activation(layer: Any) -> str:
    return str(getattr(getattr(layer, "activation", None), "__name__", ""))


def _activate(graph: OnnxGraph, layer: Any, kind: str, source: str, top: str) -> None:
    activation = _activation(layer)
    if activation not in _ACTIVATIONS:
        raise _unsupported(layer, kind)
    operator = _ACTIVATIONS[activation]
    graph.node(operator or "Identity", [source], [top])


def _check(layer: Any, kind: str, **expected: Any) -> None:
    """Refuse ``layer`` unless each named setting has the expected value (or all-equal tuple)."""
    for setting, wanted in expected.items():
        actual = getattr(layer, setting)
        values = set(actual) if isinstance(actual, (tuple, list)) else {actual}
        if values != {wanted}:
            raise ConvertError(
                f"the Keras layer {layer.name!r} ({kind}, {setting}={actual!r}) cannot be exported",
                hint=f"export covers {kind} with {setting}={wanted!r}",
            )


def _unsupported(layer: Any, kind: str) -> ConvertError:
    activation = _activation(layer)
    return ConvertError(
        f"the Keras layer {layer.name!r} ({kind}"
        f"{f', activation {activation}' if activation else ''}) cannot be exported",
        hint="export covers the layers of keras.cnn and keras.rnn networks",
    )
