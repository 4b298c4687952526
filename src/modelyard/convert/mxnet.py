"""MXNet models (``PREFIX-symbol.json`` + ``PREFIX-NNNN.params``) as ONNX packages, without MXNet.

Both a model-zoo checkpoint (``Module.save_checkpoint``) and a Gluon ``HybridBlock.export``
are a symbol graph in JSON and the weights in an NDArray list (``mxnet_params``). Each operator
becomes ONNX operators (opset ``OPSET``); shapes, where an operator needs them (pooling,
reshape codes), come from ONNX shape inference on the graph built so far.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelyard.convert.errors import ConvertError, UnsupportedLayerError
from modelyard.convert.graph import OnnxGraph, int64, pooled_size
from modelyard.convert.mxnet_params import read_params
from modelyard.learn.registry import Task

OPSET = 13
Shape = tuple[int, ...]
_LABEL_SUFFIX = "_label"


@dataclass(frozen=True)
class ImportResult:
    """The package ``import_mxnet`` wrote, its input shape and the check it passed."""

    package: Path
    input_shape: Shape
    operators: int
    check: str


def import_mxnet(
    symbol: str | Path,
    params: str | Path,
    out: str | Path,
    *,
    input_shape: Sequence[int],
    title: str | None = None,
) -> ImportResult:
    """Convert an MXNet model to an ONNX package in ``out`` (written whole, or not at all).

    Raises:
        UnsupportedLayerError: an operator (or one of its options) is not converted; names it.
        ConvertError: a file is unreadable, or a weight is missing.
    """
    from modelyard.convert.package import save_onnx_package, source_files
    from modelyard.learn.backends.onnx import OnnxModel

    symbol, params = Path(symbol), Path(params)
    try:
        graph_json = json.loads(symbol.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ConvertError(f"{symbol.name} is not a readable MXNet symbol file: {error}") from None
    converter = _Converter(graph_json, read_params(params), tuple(input_shape))
    model = converter.convert()
    sample_shape = tuple(input_shape)
    import numpy as np

    sample = np.random.default_rng(0).normal(size=sample_shape).astype(np.float32)
    try:
        outputs = OnnxModel(model.SerializeToString(), "regression").outputs(sample)
    except Exception as error:  # onnxruntime's errors have no common base
        raise ConvertError(f"onnxruntime cannot run the converted model: {error}") from error
    first = next(iter(outputs.values()))
    task: Task = "classification" if converter.ends_in_softmax else "regression"
    classes = list(range(first.shape[1])) if task == "classification" else []
    check = (
        f"onnxruntime ran it on a random input {sample_shape}; converted operator by operator "
        "(modelyard's tests compare such conversions with MXNet 1.9.1's outputs)"
    )
    origin = {"format": "MXNet", "files": source_files(symbol, params), "check": check}
    package = save_onnx_package(model, out, task=task, classes=classes, origin=origin, title=title)
    return ImportResult(package, sample_shape, converter.operators, check)


class _Converter:
    """One pass over the symbol's nodes (already in topological order), adding ONNX nodes."""

    def __init__(self, symbol: dict[str, Any], params: dict[str, Any], input_shape: Shape) -> None:
        self.symbol = symbol
        self.params = params
        self.input_shape = input_shape
        self.graph = OnnxGraph()
        self.tensors: dict[tuple[int, int], str] = {}  # (node, output) -> ONNX tensor
        self.input_name = ""
        self.operators = 0
        self.ends_in_softmax = False

    def convert(self) -> Any:
        from onnx import TensorProto, checker, helper

        nodes = self.symbol.get("nodes")
        if not isinstance(nodes, list):
            raise ConvertError("the symbol file has no list of nodes")
        for index, node in enumerate(nodes):
            self._node(index, node)
        heads = [self.tensors[(head[0], head[1])] for head in self.symbol["heads"]]
        model = helper.make_model(
            self._graph(heads, helper, TensorProto),
            opset_imports=[helper.make_opsetid("", OPSET)],
            producer_name="modelyard",
        )
        checker.check_model(model, full_check=True)
        return model

    def _graph(self, outputs: list[str], helper: Any, tensor_proto: Any) -> Any:
        if not self.input_name:
            raise ConvertError("the symbol has no input variable")
        return helper.make_graph(
            self.graph.nodes,
            "mxnet",
            [
                helper.make_tensor_value_info(
                    self.input_name, tensor_proto.FLOAT, ["N", *self.input_shape[1:]]
                )
            ],
            [
                helper.make_tensor_value_info(
                    name, tensor_proto.FLOAT, ["N", *self.shape(name)[1:]]
                )
                for name in outputs
            ],
            self.graph.initializers,
        )

    def shape(self, tensor: str) -> Shape:
        """The shape of ``tensor`` for the given input shape, by ONNX shape inference."""
        from onnx import TensorProto, helper, shape_inference

        if tensor == self.input_name:
            return self.input_shape
        graph = helper.make_graph(
            self.graph.nodes,
            "partial",
            [helper.make_tensor_value_info(self.input_name, TensorProto.FLOAT, self.input_shape)],
            [helper.make_tensor_value_info(tensor, TensorProto.FLOAT, None)],
            self.graph.initializers,
        )
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
        inferred = shape_inference.infer_shapes(model, strict_mode=True).graph
        for value in [*inferred.value_info, *inferred.output]:
            if value.name == tensor:
                return tuple(dim.dim_value for dim in value.type.tensor_type.shape.dim)
        raise ConvertError(f"the shape of {tensor!r} cannot be inferred")

    def _node(self, index: int, node: dict[str, Any]) -> None:
        op, name = node["op"], node["name"]
        if op == "null":
            if self._param(name) is None and not name.endswith(_LABEL_SUFFIX):
                if self.input_name:
                    raise ConvertError(
                        f"the symbol has more than one input ({self.input_name!r}, {name!r})"
                    )
                self.input_name = name
                self.tensors[(index, 0)] = name
            return
        handler = _HANDLERS.get(op)
        if handler is None:
            raise UnsupportedLayerError(
                f"operator {name!r} is {op!r}, which modelyard does not convert",
                hint=f"supported operators: {', '.join(sorted(_HANDLERS))}",
            )
        self.operators += 1
        attributes = node.get("attrs") or node.get("attr") or node.get("param") or {}
        inputs = [(entry[0], entry[1]) for entry in node["inputs"]]
        handler(_Op(self, name, op, attributes, inputs))
        self.tensors[(index, 0)] = name
        self.ends_in_softmax = op in ("SoftmaxOutput", "softmax", "SoftmaxActivation")

    def _param(self, name: str) -> Any:
        for key in (f"arg:{name}", f"aux:{name}", name):
            if key in self.params:
                return self.params[key]
        return None


class _Op:
    """One operator node: its name, attributes and inputs (tensors, or weights by name)."""

    def __init__(
        self,
        converter: _Converter,
        name: str,
        op: str,
        attributes: dict[str, str],
        inputs: list[tuple[int, int]],
    ) -> None:
        self.converter = converter
        self.name, self.op, self.attributes, self.inputs = name, op, attributes, inputs

    def tensor(self, position: int = 0) -> str:
        """The ONNX tensor (or weight, added as a constant) the ``position``-th input is."""
        node, output = self.inputs[position]
        found = self.converter.tensors.get((node, output))
        if found is not None:
            return found
        variable = self.converter.symbol["nodes"][node]["name"]
        return self.converter.graph.const(variable, self.weight(position))

    def weight(self, position: int) -> Any:
        import numpy as np

        variable = self.converter.symbol["nodes"][self.inputs[position][0]]["name"]
        value = self.converter._param(variable)
        if value is None:
            raise ConvertError(f"operator {self.name!r} ({self.op}) has no weight {variable!r}")
        return np.asarray(value, dtype=np.float32)

    def get(self, key: str, default: Any) -> Any:
        """An attribute, parsed from MXNet's text (``"(3, 3)"``, ``"True"``, ``"0.1"``)."""
        text = self.attributes.get(key)
        if text is None:
            return default
        if text in ("True", "False"):
            return text == "True"
        if text == "None":
            return default
        try:
            return ast.literal_eval(text)
        except (ValueError, SyntaxError):
            return text

    def pair(self, key: str, default: int) -> tuple[int, int]:
        value = self.get(key, ())
        values = tuple(value) if isinstance(value, tuple | list) else (value,)
        if not values:
            return default, default
        if len(values) == 1:
            return int(values[0]), int(values[0])
        if len(values) != 2:
            raise UnsupportedLayerError(
                f"operator {self.name!r} ({self.op}) is {len(values)}-D; only 2-D is converted"
            )
        return int(values[0]), int(values[1])

    def emit(self, op: str, inputs: list[str], **attributes: Any) -> None:
        self.converter.graph.node(op, inputs, [self.name], **attributes)

    def unsupported(self, what: str) -> UnsupportedLayerError:
        return UnsupportedLayerError(
            f"operator {self.name!r} ({self.op}) has {what}, which is not converted"
        )

    def const(self, suffix: str, value: Any) -> str:
        return self.converter.graph.const(f"{self.name}/{suffix}", value)


def _convolution(op: _Op) -> None:
    if op.get("layout", "NCHW") not in ("NCHW", None):
        raise op.unsupported(f"layout {op.get('layout', '')}")
    kernel = op.pair("kernel", 1)
    pad, stride, dilate = op.pair("pad", 0), op.pair("stride", 1), op.pair("dilate", 1)
    transposed = op.op == "Deconvolution"
    inputs = [op.tensor(0), op.tensor(1)]
    if not op.get("no_bias", transposed):  # MXNet's Deconvolution has no bias by default
        inputs.append(op.tensor(2))
    onnx_op = "ConvTranspose" if transposed else "Conv"
    attributes: dict[str, Any] = {}
    if onnx_op == "ConvTranspose":
        adjust = op.pair("adj", 0)
        if any(adjust):
            attributes["output_padding"] = list(adjust)
    op.emit(
        onnx_op,
        inputs,
        kernel_shape=list(kernel),
        pads=[*pad, *pad],
        strides=list(stride),
        dilations=list(dilate),
        group=int(op.get("num_group", 1)),
        **attributes,
    )


def _batch_norm(op: _Op) -> None:
    """ONNX's BatchNormalization over axis 1; over another axis, its scale and shift folded
    (in double precision) and broadcast along that axis."""
    import numpy as np

    source = op.tensor(0)
    gamma = op.weight(1)
    if op.get("fix_gamma", True):
        gamma = np.ones_like(gamma)
    eps = float(op.get("eps", 1e-3))
    axis = int(op.get("axis", 1))
    if axis == 1:
        inputs = [source, op.const("gamma", gamma), op.tensor(2), op.tensor(3), op.tensor(4)]
        op.emit("BatchNormalization", inputs, epsilon=eps)
        return
    beta, mean, variance = (op.weight(position).astype(np.float64) for position in (2, 3, 4))
    rank = len(op.converter.shape(source))
    along = [1] * rank
    along[axis % rank] = -1
    scale = gamma.astype(np.float64) / np.sqrt(variance + eps)
    shift = beta - mean * scale
    scaled = f"{op.name}/scaled"
    factor = op.const("scale", scale.reshape(along).astype(np.float32))
    op.converter.graph.node("Mul", [source, factor], [scaled])
    op.emit("Add", [scaled, op.const("shift", shift.reshape(along).astype(np.float32))])


_ACTIVATIONS = {
    "relu": "Relu",
    "sigmoid": "Sigmoid",
    "tanh": "Tanh",
    "softrelu": "Softplus",
    "softsign": "Softsign",
}


def _activation(op: _Op) -> None:
    kind = op.get("act_type", "relu")
    if kind not in _ACTIVATIONS:
        raise op.unsupported(f"act_type {kind!r}")
    op.emit(_ACTIVATIONS[kind], [op.tensor(0)])


def _leaky_relu(op: _Op) -> None:
    kind = op.get("act_type", "leaky")
    slope = float(op.get("slope", 0.25))
    if kind == "leaky":
        op.emit("LeakyRelu", [op.tensor(0)], alpha=slope)
    elif kind == "elu":
        op.emit("Elu", [op.tensor(0)], alpha=slope)
    elif kind == "selu":
        op.emit("Selu", [op.tensor(0)])
    elif kind == "gelu":
        _gelu(op)
    elif kind == "prelu":
        gamma = op.weight(1)
        rank = len(op.converter.shape(op.tensor(0)))
        slope_shape = (gamma.size, *([1] * (rank - 2))) if gamma.size > 1 else (1,)
        op.emit("PRelu", [op.tensor(0), op.const("slope", gamma.reshape(slope_shape))])
    else:
        raise op.unsupported(f"act_type {kind!r}")


def _gelu(op: _Op) -> None:
    """MXNet's gelu, the exact one: ``x * (1 + erf(x / sqrt(2))) / 2``."""
    import numpy as np

    source, graph, name = op.tensor(0), op.converter.graph, op.name
    graph.node("Div", [source, op.const("sqrt2", np.float32(np.sqrt(2)))], [f"{name}/scaled"])
    graph.node("Erf", [f"{name}/scaled"], [f"{name}/erf"])
    graph.node("Add", [f"{name}/erf", op.const("one", np.float32(1))], [f"{name}/shifted"])
    graph.node("Mul", [source, f"{name}/shifted"], [f"{name}/product"])
    op.emit("Mul", [f"{name}/product", op.const("half", np.float32(0.5))])


def _pooling(op: _Op) -> None:
    kind = op.get("pool_type", "max")
    if kind not in ("max", "avg"):
        raise op.unsupported(f"pool_type {kind!r}")
    source = op.tensor(0)
    if op.get("global_pool", False):
        op.emit("GlobalMaxPool" if kind == "max" else "GlobalAveragePool", [source])
        return
    convention = op.get("pooling_convention", "valid")
    if convention not in ("valid", "full"):
        raise op.unsupported(f"pooling_convention {convention!r}")
    kernel, pad, stride = op.pair("kernel", 1), op.pair("pad", 0), op.pair("stride", 1)
    extent = op.converter.shape(source)[2:]
    size = [
        pooled_size(e, k, s, p, ceil=convention == "full")
        for e, k, s, p in zip(extent, kernel, stride, pad, strict=True)
    ]
    op.converter.graph.pool(
        source,
        op.name,
        maximum=kind == "max",
        extent=extent,
        kernel=kernel,
        stride=stride,
        pad=pad,
        size=size,
        count_pad=bool(op.get("count_include_pad", True)),
    )


def _fully_connected(op: _Op) -> None:
    source = op.tensor(0)
    weight = op.weight(1)
    bias = None if op.get("no_bias", False) else op.tensor(2)
    if op.get("flatten", True):
        flat = f"{op.name}/flat"
        op.converter.graph.node("Flatten", [source], [flat], axis=1)
        op.emit("Gemm", [flat, op.tensor(1), *([bias] if bias else [])], transB=1)
        return
    product = f"{op.name}/product" if bias else op.name
    op.converter.graph.node("MatMul", [source, op.const("weight_t", weight.T)], [product])
    if bias:
        op.emit("Add", [product, bias])


def _softmax(op: _Op) -> None:
    axis = -1 if op.op == "softmax" else 1
    if op.op == "SoftmaxOutput" and op.get("multi_output", False):
        axis = 1
    op.emit("Softmax", [op.tensor(0)], axis=int(op.get("axis", axis)))


def _binary(onnx_op: str) -> Callable[[_Op], None]:
    def convert(op: _Op) -> None:
        op.emit(onnx_op, [op.tensor(0), op.tensor(1)])

    return convert


def _scalar(onnx_op: str, *, reverse: bool = False) -> Callable[[_Op], None]:
    def convert(op: _Op) -> None:
        import numpy as np

        scalar = op.const("scalar", np.float32(op.get("scalar", 0.0)))
        inputs = [scalar, op.tensor(0)] if reverse else [op.tensor(0), scalar]
        op.emit(onnx_op, inputs)

    return convert


def _concat(op: _Op) -> None:
    inputs = [op.tensor(position) for position in range(len(op.inputs))]
    op.emit("Concat", inputs, axis=int(op.get("dim", 1)))


def _flatten(op: _Op) -> None:
    op.emit("Flatten", [op.tensor(0)], axis=1)


def _identity(op: _Op) -> None:
    op.emit("Identity", [op.tensor(0)])


def _reshape(op: _Op) -> None:
    """MXNet's codes read left to right, or with ``reverse`` right to left (MXNet reverses the
    shape and the codes, reads them, and reverses the result)."""
    source = op.tensor(0)
    codes = list(op.get("shape", ()))
    shape = op.converter.shape(source)
    if op.get("reverse", False):
        target = _mxnet_reshape(shape[::-1], codes[::-1], op)[::-1]
        dims = [0, *target[1:]] if target[0] == shape[0] else target
    else:
        target = _mxnet_reshape(shape, codes, op)
        dims = [0, *target[1:]] if codes[:1] in ([0], [-2]) else target
    op.emit("Reshape", [source, op.const("shape", int64(list(dims)))])


def _mxnet_reshape(shape: Shape, codes: list[int], op: _Op) -> list[int]:
    """MXNet's reshape codes: 0 copy, -1 infer, -2 copy the rest, -3 merge two, -4 split one."""
    import math

    result: list[int] = []
    position, index = 0, 0
    while index < len(codes):
        code = codes[index]
        if code == 0:
            result.append(shape[position])
            position += 1
        elif code == -2:
            result.extend(shape[position:])
            position = len(shape)
        elif code == -3:
            result.append(shape[position] * shape[position + 1])
            position += 2
        elif code == -4:
            first, second = codes[index + 1], codes[index + 2]
            whole = shape[position]
            first = whole // second if first == -1 else first
            second = whole // first if second == -1 else second
            result.extend([first, second])
            position += 1
            index += 2
        elif code == -1:
            result.append(-1)
            position += 1
        elif code > 0:
            result.append(code)
            position += 1
        else:
            raise op.unsupported(f"reshape code {code}")
        index += 1
    if -1 in result:
        known = math.prod(size for size in result if size != -1)
        result[result.index(-1)] = math.prod(shape) // known
    if math.prod(result) != math.prod(shape):
        raise ConvertError(f"operator {op.name!r} (Reshape) cannot make {shape} into {codes}")
    return result


def _transpose(op: _Op) -> None:
    axes = op.get("axes", ())
    if axes:
        op.emit("Transpose", [op.tensor(0)], perm=list(axes))
    else:
        op.emit("Transpose", [op.tensor(0)])


def _clip(op: _Op) -> None:
    import numpy as np

    low = op.const("min", np.float32(op.get("a_min", -np.inf)))
    high = op.const("max", np.float32(op.get("a_max", np.inf)))
    op.emit("Clip", [op.tensor(0), low, high])


def _mean(op: _Op) -> None:
    if op.get("exclude", False):
        raise op.unsupported("exclude=True")
    axis = op.get("axis", ())
    axes = list(axis) if isinstance(axis, tuple | list) else [axis]
    keep = int(bool(op.get("keepdims", False)))
    if axes:
        op.emit("ReduceMean", [op.tensor(0)], axes=axes, keepdims=keep)
    else:
        op.emit("ReduceMean", [op.tensor(0)], keepdims=keep)


def _slice_axis(op: _Op) -> None:
    axis = int(op.get("axis", 0))
    begin, end = int(op.get("begin", 0)), op.get("end", None)
    bounds = [
        op.const("starts", int64([begin])),
        op.const("ends", int64([end if end is not None else 2**62])),
        op.const("axes", int64([axis])),
    ]
    op.emit("Slice", [op.tensor(0), *bounds])


_L2_MODES = ("channel", "spatial", "instance")


def _l2_normalization(op: _Op) -> None:
    import numpy as np

    mode = op.get("mode", "instance")
    if mode not in _L2_MODES:
        raise op.unsupported(f"mode {mode!r}")
    source = op.tensor(0)
    rank = len(op.converter.shape(source))
    axes = {"channel": [1], "spatial": list(range(2, rank)), "instance": list(range(1, rank))}
    squares = f"{op.name}/squares"
    graph = op.converter.graph
    graph.node("ReduceSumSquare", [source], [squares], axes=axes[mode], keepdims=1)
    eps = op.const("eps", np.float32(op.get("eps", 1e-10)))
    graph.node("Add", [squares, eps], [f"{op.name}/shifted"])
    graph.node("Sqrt", [f"{op.name}/shifted"], [f"{op.name}/norm"])
    op.emit("Div", [source, f"{op.name}/norm"])


def _upsampling(op: _Op) -> None:
    import numpy as np

    if op.get("sample_type", "nearest") == "bilinear":
        _bilinear_upsampling(op)
        return
    if int(op.get("num_args", 1)) != 1:
        raise op.unsupported("nearest upsampling of several inputs")
    scale = float(op.get("scale", 1))
    scales = op.const("scales", np.asarray([1, 1, scale, scale], dtype=np.float32))
    op.emit(
        "Resize",
        [op.tensor(0), "", scales],
        mode="nearest",
        coordinate_transformation_mode="asymmetric",
        nearest_mode="floor",
    )


def _bilinear_upsampling(op: _Op) -> None:
    """MXNet's bilinear UpSampling is a transposed convolution by its weight input, one
    filter per channel: kernel ``2 * scale - scale % 2``, stride ``scale``, pad
    ``ceil((scale - 1) / 2)``."""
    scale = int(op.get("scale", 1))
    channels = int(op.get("num_filter", 0))
    if len(op.inputs) != 2 or not channels:
        raise op.unsupported("bilinear upsampling without its weight or num_filter")
    kernel, pad = 2 * scale - scale % 2, -(-(scale - 1) // 2)
    op.emit(
        "ConvTranspose",
        [op.tensor(0), op.tensor(1)],
        kernel_shape=[kernel, kernel],
        strides=[scale, scale],
        pads=[pad] * 4,
        group=channels,
    )


def _crop(op: _Op) -> None:
    source = op.tensor(0)
    height, width = op.converter.shape(source)[2:]
    if int(op.get("num_args", 1)) == 2:
        target = op.converter.shape(op.tensor(1))[2:]
    else:
        target = op.pair("h_w", 0)
    offset = op.pair("offset", 0)
    if op.get("center_crop", False):
        offset = ((height - target[0]) // 2, (width - target[1]) // 2)
    bounds = [
        op.const("starts", int64(list(offset))),
        op.const("ends", int64([offset[0] + target[0], offset[1] + target[1]])),
        op.const("axes", int64([2, 3])),
    ]
    op.emit("Slice", [source, *bounds])


def _filled_like(value: float) -> Callable[[_Op], None]:
    def convert(op: _Op) -> None:
        from onnx import TensorProto, helper

        shape = f"{op.name}/shape"
        op.converter.graph.node("Shape", [op.tensor(0)], [shape])
        fill = helper.make_tensor("value", TensorProto.FLOAT, [1], [value])
        op.emit("ConstantOfShape", [shape], value=fill)

    return convert


_HANDLERS: dict[str, Callable[[_Op], None]] = {
    "Convolution": _convolution,
    "Deconvolution": _convolution,
    "BatchNorm": _batch_norm,
    "Activation": _activation,
    "LeakyReLU": _leaky_relu,
    "Pooling": _pooling,
    "Flatten": _flatten,
    "flatten": _flatten,
    "FullyConnected": _fully_connected,
    "SoftmaxOutput": _softmax,
    "softmax": _softmax,
    "SoftmaxActivation": _softmax,
    "Concat": _concat,
    "concat": _concat,
    "Dropout": _identity,
    "Reshape": _reshape,
    "reshape": _reshape,
    "transpose": _transpose,
    "clip": _clip,
    "mean": _mean,
    "slice_axis": _slice_axis,
    "L2Normalization": _l2_normalization,
    "UpSampling": _upsampling,
    "Crop": _crop,
    "ones_like": _filled_like(1.0),
    "zeros_like": _filled_like(0.0),
    **{name: _binary("Add") for name in ("elemwise_add", "broadcast_add", "_plus", "_Plus")},
    **{name: _binary("Sub") for name in ("elemwise_sub", "broadcast_sub", "_minus", "_Minus")},
    **{name: _binary("Mul") for name in ("elemwise_mul", "broadcast_mul", "_mul", "_Mul")},
    **{name: _binary("Div") for name in ("elemwise_div", "broadcast_div", "_div", "_Div")},
    "_plus_scalar": _scalar("Add"),
    "_minus_scalar": _scalar("Sub"),
    "_rminus_scalar": _scalar("Sub", reverse=True),
    "_mul_scalar": _scalar("Mul"),
    "_div_scalar": _scalar("Div"),
    "_rdiv_scalar": _scalar("Div", reverse=True),
}
